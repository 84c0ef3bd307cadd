/**
 * A host killed with open sessions: a child process opens 20 sessions
 * through createHost (a registry file, pam_stamp with a token per session)
 * and is killed with SIGKILL; `pamwasm recover` then closes each exactly
 * once, with the data its open saved, and a second recover finds nothing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import { HOST_DIST, lastJson, pamwasm, pamwasmAsync, Scratch, startScript } from './support.js';

const dir = new Scratch();
afterAll(() => dir.cleanup());

const SESSIONS = 20;
for (let n = 1; n <= SESSIONS; n++) dir.write(`stamp-${n}.stack`, `session required pam_stamp.wasm token=tok-${n}\n`);

const script = dir.write('host.mjs', `
  import { createHost } from ${JSON.stringify(pathToFileURL(HOST_DIST).href)};
  const [registry, dir, count] = process.argv.slice(2);
  const host = await createHost({ registry });
  for (let n = 1; n <= Number(count); n++) {
    const s = await host.openSession({ stack: dir + '/stamp-' + n + '.stack', service: 'login', user: 'user' + n, tty: 'pts/' + n });
    if (!s.opened) throw new Error('session ' + n + ' did not open: ' + s.name);
  }
  process.stdout.write('ready\\n');
  setInterval(() => {}, 1 << 30);
`);

interface Closed { id: string; user: string; tty: string; name: string; messages: { style: string; text: string }[] }
interface Listed { id: string; state: string; ownerPid: number; closedBy: string | null; user: string }

/** Runs a host that opens SESSIONS sessions in `registry`, then kills it with SIGKILL. */
async function killedHost(registry: string): Promise<number> {
  const host = await startScript(script, [registry, dir.path, String(SESSIONS)]);
  const open = lastJson<Listed[]>(pamwasm(['sessions', '--registry', registry, '--state', 'open', '--json']).stdout);
  expect(open).toHaveLength(SESSIONS);
  expect(new Set(open.map((r) => r.ownerPid))).toEqual(new Set([host.pid]));
  expect(await host.kill('SIGKILL')).toBeNull();
  return host.pid;
}

const expectedStamp = (c: Closed) => {
  const n = c.user.replace('user', '');
  return { id: c.id, name: 'PAM_SUCCESS', messages: [{ style: 'info', text: `pam_stamp: token=tok-${n} user=user${n} tty=pts/${n}` }] };
};

describe('pamwasm recover after kill -9', () => {
  it('closes all 20 sessions exactly once with their data, and a second recover does nothing', async () => {
    const registry = `${dir.path}/killed.db`;
    await killedHost(registry);

    const first = pamwasm(['recover', '--registry', registry, '--json']);
    expect([first.code, first.stderr]).toEqual([0, '']);
    const closed = lastJson<{ closed: Closed[] }>(first.stdout).closed;
    expect(closed).toHaveLength(SESSIONS);
    expect(new Set(closed.map((c) => c.id)).size).toBe(SESSIONS);
    for (const c of closed) expect(c).toMatchObject(expectedStamp(c));

    const rows = lastJson<Listed[]>(pamwasm(['sessions', '--registry', registry, '--json']).stdout);
    expect(rows.map((r) => [r.state, r.closedBy])).toEqual(Array(SESSIONS).fill(['closed', 'recover']));

    const second = pamwasm(['recover', '--registry', registry, '--json']);
    expect(second.code).toBe(0);
    expect(lastJson<{ closed: Closed[] }>(second.stdout).closed).toEqual([]);
    expect(pamwasm(['recover', '--registry', registry]).stdout).toMatch(/^nothing to recover/);
  });

  it('closes each session once when two recovers race for the same orphans', async () => {
    const registry = `${dir.path}/raced.db`;
    await killedHost(registry);
    const runs = await Promise.all([pamwasmAsync(['recover', '--registry', registry, '--json']), pamwasmAsync(['recover', '--registry', registry, '--json'])]);
    const closed = runs.flatMap((r) => {
      expect(r.code).toBe(0);
      return lastJson<{ closed: Closed[] }>(r.stdout).closed;
    });
    expect(closed.map((c) => c.id).sort()).toEqual([...new Set(closed.map((c) => c.id))].sort());
    expect(closed).toHaveLength(SESSIONS);
    for (const c of closed) expect(c).toMatchObject(expectedStamp(c));
  });
});

describe('pamwasm sessions', () => {
  it('lists an empty registry, and refuses an unknown --state in one sentence', () => {
    const registry = `${dir.path}/empty.db`;
    expect(lastJson(pamwasm(['sessions', '--registry', registry, '--json']).stdout)).toEqual([]);
    expect(pamwasm(['sessions', '--registry', registry]).stdout).toMatch(/^no sessions in /);
    const bad = pamwasm(['sessions', '--registry', registry, '--state', 'zombie']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--keep deletes closed sessions that ended longer ago, after closing the orphans; open ones and recent ones stay', async () => {
    const registry = `${dir.path}/kept.db`;
    await killedHost(registry);
    const live = await startScript(script, [registry, dir.path, String(SESSIONS)]);
    try {
      // Closed just now: they stay, whatever --keep says.
      const first = pamwasm(['recover', '--registry', registry, '--keep', '1s', '--json']);
      expect([first.code, first.stderr]).toEqual([0, '']);
      expect(lastJson<{ closed: Closed[]; forgotten: number }>(first.stdout)).toMatchObject({ forgotten: 0 });
      expect(lastJson<{ closed: Closed[] }>(first.stdout).closed).toHaveLength(SESSIONS);
      await new Promise((r) => setTimeout(r, 1200));
      // 0 keeps them for ever.
      expect(lastJson<{ forgotten: number }>(pamwasm(['recover', '--registry', registry, '--keep', '0', '--json']).stdout).forgotten).toBe(0);
      const later = pamwasm(['recover', '--registry', registry, '--keep', '1s']);
      expect([later.code, later.stderr]).toEqual([0, '']);
      expect(later.stdout).toMatch(new RegExp(`deleted ${SESSIONS} closed or failed sessions that ended over 1s ago`));
      const rows = lastJson<Listed[]>(pamwasm(['sessions', '--registry', registry, '--json']).stdout);
      expect(rows.map((r) => r.state)).toEqual(Array(SESSIONS).fill('open'));
      expect(new Set(rows.map((r) => r.ownerPid))).toEqual(new Set([live.pid]));
    } finally {
      await live.kill('SIGKILL');
    }
    const bad = pamwasm(['recover', '--registry', registry, '--keep', 'a week']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--keep a week is not a duration such as 500ms, 2s, 12h or 7d; see `pamwasm recover --help`/);
  });
});
