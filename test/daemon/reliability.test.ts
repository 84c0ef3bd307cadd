import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PAM_MODULE } from '../../host/build/pam.js';
import { PAM } from '../../host/codes/index.js';
import { BIN, DaemonDir, hook, HOSTILE, openFromApplication, startDaemonChild, type DaemonChild } from '../support/daemon.js';

const ITEMS = { service: 'sshd', user: 'alice', tty: 'ssh', rhost: '192.0.2.1' };

const workerOf = (daemon: DaemonChild, id: string) => Number(/worker=(\d+)/.exec(daemon.log.find((l) => l.includes(`open session=${id}`))!)![1]);

describe('the daemon loses no close', () => {
  let d: DaemonDir;
  const daemons: DaemonChild[] = [];
  afterEach(async () => {
    for (const x of daemons.splice(0)) await x.stop('SIGKILL');
    d?.remove();
  });

  it('closes each of 20 sessions exactly once after kill -9 of the daemon and a restart', async () => {
    d = new DaemonDir();
    const stack = d.stack('session required pam_stamp.wasm token=before-crash');
    const first = await startDaemonChild(d, ['--workers', '2']);
    daemons.push(first);
    const opened = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      hook(d.socket, { hook: 'open_session', stack, items: { ...ITEMS, tty: `pts/${i}` } })));
    expect(opened.map((o) => o.code)).toEqual(Array(20).fill(PAM.SUCCESS.number));
    await first.stop('SIGKILL');
    // Each worker records its sessions in a pending file of its own (sessions/pending.ts).
    const pendingFiles = () => readdirSync(dirname(d.registry)).filter((n) => n.startsWith('registry.db-pending-'));
    const left = pendingFiles();
    expect(left.length).toBeGreaterThan(0);

    const second = await startDaemonChild(d, ['--workers', '2']);
    daemons.push(second);
    // The restart folded the first run's files into the registry, and they are gone.
    expect(pendingFiles().filter((n) => left.includes(n))).toEqual([]);
    // The owner (this process) still runs: the restart closes none of them by itself.
    expect(d.rows().filter((r) => r.state === 'open')).toHaveLength(20);
    const closed = await Promise.all(opened.map((o, i) =>
      hook(d.socket, { hook: 'close_session', stack, items: { ...ITEMS, tty: `pts/${i}` }, sessionId: o.sessionId })));
    expect(closed.map((c) => c.code)).toEqual(Array(20).fill(PAM.SUCCESS.number));
    // Each close ran on fresh instances with the data recorded at open.
    expect(closed.map((c) => c.messages)).toEqual(opened.map((_, i) => [`pam_stamp: token=before-crash user=alice tty=pts/${i}`]));
    await second.closesLogged(opened.map((o) => o.sessionId));
    const rows = d.rows();
    expect(rows.map((r) => [r.state, r.closedBy, r.closeCode])).toEqual(Array(20).fill(['closed', 'daemon-record', 0]));
    // A second close of any of them runs nothing.
    const again = await hook(d.socket, { hook: 'close_session', stack, items: { ...ITEMS, tty: 'pts/0' }, sessionId: opened[0].sessionId });
    expect([again.code, again.messages]).toEqual([PAM.SESSION_ERR.number, []]);
  }, 60_000);

  it('closes exactly once the sessions of an application that exits without closing them', async () => {
    d = new DaemonDir();
    const stack = d.stack('session required pam_stamp.wasm token=orphan');
    const daemon = await startDaemonChild(d, ['--workers', '2', '--watch', '100ms']);
    daemons.push(daemon);
    // An application process that opens three sessions and exits.
    const app = await openFromApplication(d.socket, stack, 3);
    expect(app.codes).toEqual([0, 0, 0]);
    for (let i = 0; i < 3; i++) await daemon.waitFor(new RegExp(`close session=.* line=pts/${i} pid=${app.pid} by=orphan code=PAM_SUCCESS`), 10_000);
    const rows = d.rows();
    expect(rows.map((r) => [r.state, r.closedBy])).toEqual(Array(3).fill(['closed', 'orphan']));
    expect(daemon.log.filter((l) => / by=orphan /.test(l))).toHaveLength(3);
  }, 60_000);

  it('leaves the sessions of a gone application to `pamwasm recover` when the pid watch is off, closed once', async () => {
    d = new DaemonDir();
    const stack = d.stack('session required pam_stamp.wasm token=recovered');
    const daemon = await startDaemonChild(d, ['--workers', '1', '--watch', '0']);
    daemons.push(daemon);
    expect((await openFromApplication(d.socket, stack, 2)).codes).toEqual([0, 0]);
    await daemon.stop('SIGKILL');
    expect(d.rows().map((r) => r.state)).toEqual(['open', 'open']);
    const out = execFileSync(process.execPath, [BIN, 'recover', '--registry', d.registry, '--json'], { encoding: 'utf8' });
    expect((JSON.parse(out) as { closed: { messages: { text: string }[] }[] }).closed.map((c) => c.messages.map((m) => m.text)))
      .toEqual([['pam_stamp: token=recovered user=alice tty=pts/0'], ['pam_stamp: token=recovered user=alice tty=pts/1']]);
    expect(d.rows().map((r) => [r.state, r.closedBy])).toEqual([['closed', 'recover'], ['closed', 'recover']]);
    // A restarted daemon finds nothing left to close.
    const again = await startDaemonChild(d, ['--workers', '1']);
    daemons.push(again);
    expect(again.log.find((l) => /serving /.test(l))).toMatch(/closed 0 session\(s\)/);
  }, 60_000);

  it('closes every one of 1,000 sessions through pam_wasm.so exactly once, 32 processes at a time, with one line in ten hostile', async () => {
    d = new DaemonDir();
    chmodSync(d.dir, 0o755);
    const good = d.stack('session required pam_stamp.wasm token=good');
    const looping = d.stack(`session optional [${join(HOSTILE, 'loop_open.wasm')} timeout=50ms]\nsession required pam_stamp.wasm token=looped`);
    const trapping = d.stack(`session optional ${join(HOSTILE, 'trap.wasm')}\nsession required pam_stamp.wasm token=trapped`);
    const daemon = await startDaemonChild(d, ['--workers', '2']);
    daemons.push(daemon);
    // Ten services, one per remainder of the session's number: 3 loops, 7 traps.
    const services = Array.from({ length: 10 }, (_, k) => {
      const stack = k === 3 ? looping : k === 7 ? trapping : good;
      writeFileSync(join(d.dir, `svc${k}`), `session required ${PAM_MODULE} stack=${stack} socket=${d.socket} daemon_user=root\n`);
      return `svc${k}`;
    });
    const driver = join(d.dir, 'pam_sessions');
    execFileSync('gcc', ['-O2', '-o', driver, join(import.meta.dirname, 'fixtures', 'pam_sessions.c'), '-lpam']);
    const out = await new Promise<string>((resolve, reject) => execFile(driver, [d.dir, '32', '1000', ...services], { maxBuffer: 1 << 22 }, (e, stdout) => (e ? reject(e) : resolve(stdout))));
    const lines = out.trim().split('\n').map((l) => l.split(' ')).sort((a, b) => Number(a[0]) - Number(b[0]));
    const token = (i: number) => (i % 10 === 3 ? 'looped' : i % 10 === 7 ? 'trapped' : 'good');
    // Each: opened (0), closed (0), one stamp at close, from its own session.
    expect(lines.map(([i, o, c, n, , ...stamp]) => [Number(i), o, c, n, stamp.join(' ')]))
      .toEqual(Array.from({ length: 1000 }, (_, i) => [i, '0', '0', '1', `token=${token(i)} user=alice tty=pts/${i}`]));
    // Each close answers before its row is marked closed; its log line comes after (docs/daemon.md).
    await vi.waitFor(() => expect(daemon.log.filter((l) => / close session=/.test(l))).toHaveLength(1000), { timeout: 20_000 });
    const rows = d.rows();
    expect(rows).toHaveLength(1000);
    expect(rows.filter((r) => r.state !== 'closed' || r.closedBy !== 'daemon' || r.closeCode !== 0)).toEqual([]);
    expect(daemon.log.filter((l) => / close session=/.test(l))).toHaveLength(1000);
  }, 240_000);

  it('a worker terminated by the watchdog takes no other worker\'s sessions down', async () => {
    d = new DaemonDir();
    const stamp = d.stack('session required pam_stamp.wasm token=kept');
    // Unmetered in its thread (--timeout 0): only the watchdog stops this loop.
    const loop = d.stack(`session required ${join(HOSTILE, 'loop_open.wasm')}`);
    const daemon = await startDaemonChild(d, ['--workers', '2', '--timeout', '0', '--unmetered', '300ms', '--margin', '300ms']);
    daemons.push(daemon);
    // Sessions on both workers: whichever worker is free accepts a connection, so opens go two at a time until each holds some.
    const opened = [];
    for (let round = 0; round < 20 && new Set(opened.map((o) => workerOf(daemon, o.sessionId!))).size < 2; round++) {
      opened.push(...await Promise.all([0, 1].map((k) => hook(d.socket, { hook: 'open_session', stack: stamp, items: { ...ITEMS, tty: `pts/${10 + 2 * round + k}` } }))));
    }
    const ttys = opened.map((_, i) => `pts/${10 + i}`);
    expect(opened.map((o) => o.code)).toEqual(opened.map(() => PAM.SUCCESS.number));
    expect(new Set(opened.map((o) => workerOf(daemon, o.sessionId!)))).toEqual(new Set([0, 1]));

    const started = Date.now();
    const stuck = hook(d.socket, { hook: 'open_session', stack: loop, items: { ...ITEMS, tty: 'pts/9' } });
    // The other worker serves meanwhile.
    const during = await hook(d.socket, { hook: 'open_session', stack: stamp, items: { ...ITEMS, tty: 'pts/5' } });
    expect(during.code).toBe(PAM.SUCCESS.number);
    // Closes of every session now: those held by the stuck worker wait behind its hook.
    const closing = opened.map((o, i) => hook(d.socket, { hook: 'close_session', stack: stamp, items: { ...ITEMS, tty: ttys[i] }, sessionId: o.sessionId }));
    const lost = await stuck;
    expect(lost.code).toBe(PAM.SESSION_ERR.number);
    expect(Date.now() - started).toBeLessThan(10_000);
    const killed = Number(/worker (\d+) passed its hard deadline/.exec(await daemon.waitFor(/passed its hard deadline/))![1]);
    expect(d.rows().find((r) => r.id === lost.sessionId)!.state).toBe('failed');

    const closes = [...await Promise.all(closing), await hook(d.socket, { hook: 'close_session', stack: stamp, items: { ...ITEMS, tty: 'pts/5' }, sessionId: during.sessionId })];
    const all = [...opened, during];
    await daemon.closesLogged(all.map((o) => o.sessionId));
    const tty = [...ttys, 'pts/5'];
    expect(closes.map((c) => c.code)).toEqual(all.map(() => PAM.SUCCESS.number));
    expect(closes.map((c) => c.messages)).toEqual(all.map((_, i) => [`pam_stamp: token=kept user=alice tty=${tty[i]}`]));
    const rows = new Map(d.rows().map((r) => [r.id, r]));
    for (const o of all) {
      const w = workerOf(daemon, o.sessionId!);
      // The killed worker's sessions closed on fresh instances from the registry; the others' on their own.
      expect([o.sessionId, rows.get(o.sessionId!)!.closedBy]).toEqual([o.sessionId, w === killed ? 'daemon-record' : 'daemon']);
    }
    // A fresh worker took the killed one's place.
    const after = await Promise.all([0, 1].map((i) => hook(d.socket, { hook: 'open_session', stack: stamp, items: { ...ITEMS, tty: `pts/${20 + i}` } })));
    expect(after.map((a) => a.code)).toEqual([0, 0]);
  }, 60_000);
});
