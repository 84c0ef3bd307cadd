/**
 * pam_wasm.so inside Debian's real OpenSSH server, end to end: sshd on a
 * loopback port from a temporary sshd_config (examples/sshd/openssh.ts),
 * its session stack `session required dist/pam_wasm.so stack=...`, and the
 * real `pamwasm daemon` running pam_setenv.wasm. The one test that writes
 * /etc/pam.d (its own service file, removed after); it runs as root.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { buildPamModule } from '../../host/build/pam.js';
import { Openssh, SERVICE } from '../../examples/sshd/openssh.js';
import { DaemonDir, startDaemonChild, type DaemonChild } from '../support/daemon.js';
import { prepareModules } from './support.js';

const d = new DaemonDir();
let daemon: DaemonChild;
let sshd: Openssh;

beforeAll(async () => {
  const modules = await prepareModules(join(d.dir, 'modules'));
  const stack = d.stack(`session required ${join(modules, 'pam_setenv.wasm')} GREETING=hello-%u`);
  const shim = buildPamModule(join(d.dir, 'pam_wasm.so'));
  daemon = await startDaemonChild(d);
  sshd = await Openssh.start({
    dir: join(d.dir, 'sshd'),
    session: `session required ${shim} stack=${stack} socket=${d.socket} daemon_user=root timeout=10s`,
  });
}, 120_000);

afterAll(async () => {
  await sshd?.stop();
  await daemon?.stop();
  d.remove();
});

const rows = () => d.rows().filter((r) => r.service === SERVICE);
/** How many times the daemon logged closing each session. */
function closes(): Map<string, number> {
  const n = new Map<string, number>();
  for (const l of daemon.log) {
    const m = /\bclose session=(\S+) .*\bcode=/.exec(l);
    if (m) n.set(m[1]!, (n.get(m[1]!) ?? 0) + 1);
  }
  return n;
}
async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await delay(50)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

describe('logging in over ssh through pam_wasm.so and the daemon', () => {
  test("the module's put-env reaches the command's environment", async () => {
    const r = await sshd.run('echo $GREETING').done;
    expect(r).toMatchObject({ code: 0, stdout: 'hello-root\n' });
    await until('the close', () => rows().every((s) => s.state === 'closed') && closes().size === 1);
    expect(rows()).toHaveLength(1);
    expect(rows()[0]).toMatchObject({ user: 'root', tty: 'ssh', rhost: '127.0.0.1', closedBy: 'daemon', closeCode: 0 });
    expect(closes().get(rows()[0]!.id)).toBe(1);
  });

  test('a client killed with SIGKILL still gets its session closed exactly once', async () => {
    const before = new Set(rows().map((r) => r.id));
    const { child, done } = sshd.run('echo up; sleep 60');
    await until('the open', () => rows().some((r) => !before.has(r.id) && r.state === 'open'));
    child.kill('SIGKILL');
    await done;
    const id = rows().find((r) => !before.has(r.id))!.id;
    await until('the close', () => rows().find((r) => r.id === id)!.state === 'closed' && closes().has(id));
    await delay(200);
    expect(closes().get(id)).toBe(1);
  });

  test('50 logins, 10 at a time, all succeed and close once', async () => {
    const before = new Set(rows().map((r) => r.id));
    const results: { code: number | null; stdout: string }[] = [];
    for (let batch = 0; batch < 5; batch++) {
      results.push(...await Promise.all(Array.from({ length: 10 }, () => sshd.run('echo $GREETING').done)));
    }
    expect(results.filter((r) => r.code === 0 && r.stdout === 'hello-root\n')).toHaveLength(50);
    const fresh = () => rows().filter((r) => !before.has(r.id));
    await until('every close', () => fresh().length === 50 && fresh().every((r) => r.state === 'closed'));
    // The row is marked closed before the daemon logs the close.
    await until('every close logged', () => fresh().every((r) => closes().has(r.id)));
    await delay(200);
    const n = closes();
    expect(fresh().map((r) => n.get(r.id))).toEqual(Array(50).fill(1));
  }, 180_000);

  test('with the daemon stopped, the login is refused', async () => {
    await daemon.stop();
    const r = await sshd.run('echo $GREETING').done;
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toContain('hello');
  });
});
