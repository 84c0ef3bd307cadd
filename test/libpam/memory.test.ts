/**
 * Many transactions with conversations keep memory flat: responses, handles
 * and conversation callbacks are all released. Prints the RSS it measured and
 * the per-call cost, for the record (no timing is asserted).
 */
import { afterAll, describe, expect, test } from 'vitest';
import { type Conversation, PamHelper, openPamHandle } from '../../host/libpam/index.js';
import { MODES, TempDir } from './support.js';

const dir = new TempDir();
afterAll(() => dir.cleanup());

const multiconv = dir.build('pam_multiconv');
// Each open and close converses twice: pam_debug's info, then four messages
// (two prompts) in one call from pam_multiconv.
dir.service('txn', `
  session required pam_debug.so open_session=success close_session=success
  session required ${multiconv}
`);
dir.service('permit', 'session required pam_permit.so');

const TRANSACTIONS = 10_000;
const WARMUP = 1_000;
const MB = 1024 * 1024;
const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;

const conversation: Conversation = (messages) => messages.map((m) => (m.style.startsWith('prompt') ? 'answer-'.repeat(8) : null));

async function transactions(helper: PamHelper, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const h = await openPamHandle({ service: 'txn', user: `user${i % 100}`, confdir: dir.path, helper, conversation });
    await h.openSession();
    await h.closeSession();
    await h.end();
  }
}

describe.each(MODES)('in %s mode', (mode) => {
  test(`${TRANSACTIONS} transactions with conversations keep RSS flat`, async () => {
    const helper = await PamHelper.start({ mode });
    try {
      await transactions(helper, WARMUP);
      const before = { host: process.memoryUsage.rss(), helper: (await helper.stats()).rss };
      const t0 = performance.now();
      await transactions(helper, TRANSACTIONS);
      const ms = performance.now() - t0;
      const stats = await helper.stats();
      const after = { host: process.memoryUsage.rss(), helper: stats.rss };
      console.log(
        `${mode}: ${TRANSACTIONS} transactions (start, open, close, end; 4 conversation calls each) in ${(ms / 1000).toFixed(1)} s ` +
        `(${((ms * 1000) / TRANSACTIONS).toFixed(0)} us each). ` +
        `RSS after ${WARMUP} warm-up transactions -> after ${TRANSACTIONS} more: ` +
        `helper ${mb(before.helper)} -> ${mb(after.helper)}, host ${mb(before.host)} -> ${mb(after.host)}`,
      );
      expect(stats.handles).toBe(0);
      expect(stats.callbacks).toBe(0);
      // A leak of 400 bytes a transaction (e.g. the conversation's eight
      // response allocations) would show as 4 MB here.
      expect(after.helper - before.helper).toBeLessThan(4 * MB);
      expect(after.host - before.host).toBeLessThan(16 * MB);
    } finally {
      await helper.close();
    }
  }, 60_000);

  test('per-call cost, for the record', async () => {
    const helper = await PamHelper.start({ mode });
    const h = await openPamHandle({ service: 'permit', user: 'alice', confdir: dir.path, helper });
    await h.openSession();
    const N = 1_000;
    const time = async (what: string, call: () => Promise<unknown>) => {
      const t0 = performance.now();
      for (let i = 0; i < N; i++) await call();
      console.log(`${mode}: ${what}: ${(((performance.now() - t0) * 1000) / N).toFixed(0)} us a call`);
    };
    await time('pam_getenv (a round trip)', () => h.getenv('X'));
    await time('pam_close_session through pam_permit', () => h.closeSession());
    await time('pam_start_confdir + open + close + pam_end', async () => {
      const t = await openPamHandle({ service: 'permit', user: 'alice', confdir: dir.path, helper });
      await t.openSession();
      await t.closeSession();
      await t.end();
    });
    await h.end();
    const t0 = performance.now();
    const fresh = await openPamHandle({ service: 'permit', user: 'alice', confdir: dir.path, mode });
    await fresh.end();
    console.log(`${mode}: a handle with a helper of its own, started and ended: ${(performance.now() - t0).toFixed(0)} ms`);
    await helper.close();
  }, 60_000);
});
