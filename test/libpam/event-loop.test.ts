/**
 * libpam calls never block the host's event loop: a pam_authenticate held up
 * by pam_faildelay leaves a concurrent timer ticking, in both modes.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { openPamHandle } from '../../host/libpam/index.js';
import { MODES, TempDir } from './support.js';

const dir = new TempDir();
afterAll(() => dir.cleanup());

// pam_faildelay asks for 0.6 s; when the stack fails, libpam sleeps between
// half and one and a half times that (pam_delay.c) before pam_authenticate returns.
dir.service('slow-deny', `
  auth required pam_faildelay.so delay=600000
  auth required pam_deny.so
`);

describe.each(MODES)('in %s mode', (mode) => {
  test('a pam_authenticate delayed by pam_faildelay does not stop a ticking timer', async () => {
    const h = await openPamHandle({ service: 'slow-deny', user: 'alice', confdir: dir.path, mode });
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 10);
    const t0 = performance.now();
    const r = await h.authenticate({ throwOnError: false });
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    await h.end({ throwOnError: false });
    console.log(`${mode}: pam_authenticate took ${elapsed.toFixed(0)} ms; the 10 ms timer ticked ${ticks} times meanwhile`);
    expect(r.name).toBe('PAM_AUTH_ERR');
    expect(elapsed).toBeGreaterThan(200); // the delay really happened...
    expect(ticks).toBeGreaterThanOrEqual(10); // ...and the event loop ran through it
  });
});
