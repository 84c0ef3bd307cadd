/**
 * pam_wasm.so, built from host/pam/, loaded by the real libpam
 * (pam_start_confdir in a temp dir, in a helper process) and talking to a
 * fake daemon written with the protocol codec. Runs as root: the fake
 * daemon listens as root, which the module's peer check accepts.
 */
import { spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { PAM } from '../../host/codes/index.js';
import { ShimBench, STACK, timed } from './shim-support.js';

const t = new ShimBench();
beforeAll(() => t.start());
afterAll(() => t.cleanup());
beforeEach(() => { t.daemon.connections.length = 0; t.daemon.script = (_, peer) => { peer.send({ type: 'result', code: 0 }); peer.end(); }; t.syslog(); });

/** nobody: a user every Debian system has. */
const NOBODY = 65534;
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a hook is forwarded to the daemon', () => {
  test('the request carries the hook, flags, pid, stack, argv, items and env', async () => {
    const svc = t.service('session required SHIM greeting=hi [x y]');
    const h = await t.handle(svc, { items: { tty: 'pts/7', rhost: '192.0.2.1', ruser: 'bob', xdisplay: ':1' } });
    await h.putenv('LANG=C.UTF-8');
    expect((await h.openSession({ silent: true })).code).toBe(PAM.SUCCESS.number);
    expect((await h.closeSession()).code).toBe(PAM.SUCCESS.number);
    await h.end();
    const [open, close] = t.daemon.requests;
    expect(open).toEqual({
      type: 'hook', hook: 'open_session', flags: 0x8000, pid: open!.pid, stack: STACK, sessionId: '',
      argv: ['greeting=hi', 'x y'],
      items: { service: svc, user: 'alice', tty: 'pts/7', rhost: '192.0.2.1', ruser: 'bob', xdisplay: ':1' },
      env: ['LANG=C.UTF-8'],
    });
    expect(open!.pid).toBe((await t.helper.ready).pid);
    expect(close).toMatchObject({ hook: 'close_session', flags: 0 });
  });

  test('the authtok and old authtok are never sent', async () => {
    const svc = t.service(`session required ${t.setAuthtok}\nsession required SHIM`);
    const h = await t.handle(svc);
    expect((await h.openSession()).code).toBe(PAM.SUCCESS.number);
    await h.end();
    const [seen] = t.daemon.connections;
    expect(Object.keys(seen!.request!.items).sort()).toEqual(['service', 'user']);
    expect(seen!.bytes.includes('s3cret')).toBe(false);
  });

  test("the daemon's code is the hook's code", async () => {
    t.daemon.script = (_, peer) => { peer.send({ type: 'result', code: PAM.PERM_DENIED.number }); peer.end(); };
    const h = await t.handle(t.service('session required SHIM'));
    expect((await h.openSession({ throwOnError: false })).code).toBe(PAM.PERM_DENIED.number);
    await h.end();
  });
});

describe("the daemon's frames are relayed in order", () => {
  test('info and error messages reach the conversation', async () => {
    t.daemon.script = (_, peer) => {
      peer.send({ type: 'message', style: 'info', text: 'Welcome ✓' }, { type: 'message', style: 'error', text: 'disk almost full' }, { type: 'result', code: 0 });
    };
    const seen: string[] = [];
    const h = await t.handle(t.service('session required SHIM'), { conversation: (ms) => { for (const m of ms) seen.push(`${m.style}:${m.text}`); return ms.map(() => null); } });
    expect((await h.openSession()).code).toBe(PAM.SUCCESS.number);
    await h.end();
    expect(seen).toEqual(['info:Welcome ✓', 'error:disk almost full']);
  });

  test("a prompt is answered by the conversation and the answer goes back", async () => {
    const answers: unknown[] = [];
    t.daemon.script = async (_, peer) => {
      peer.send({ type: 'prompt', style: 'echo-on', text: 'Project: ' });
      answers.push(await peer.answer());
      peer.send({ type: 'prompt', style: 'echo-off', text: 'PIN: ' });
      answers.push(await peer.answer());
      peer.send({ type: 'result', code: 0 });
    };
    const asked: string[] = [];
    const h = await t.handle(t.service('session required SHIM'), {
      conversation: (ms) => ms.map((m) => { asked.push(`${m.style}:${m.text}`); return m.style === 'prompt-echo-on' ? 'apollo' : null; }),
    });
    expect((await h.openSession()).code).toBe(PAM.SUCCESS.number);
    await h.end();
    expect(asked).toEqual(['prompt-echo-on:Project: ', 'prompt-echo-off:PIN: ']);
    // A null answer to a prompt makes the conversation fail with PAM_CONV_ERR.
    expect(answers).toEqual([{ type: 'answer', code: 0, text: 'apollo' }, { type: 'answer', code: PAM.CONV_ERR.number, text: '' }]);
  });

  test('put-env reaches pam_getenvlist, and a bare name unsets', async () => {
    t.daemon.script = (_, peer) => {
      peer.send({ type: 'putenv', entry: 'GREETING=hello from wasm' }, { type: 'putenv', entry: 'OLD' }, { type: 'result', code: 0 });
    };
    const h = await t.handle(t.service('session required SHIM'));
    await h.putenv('OLD=1');
    expect((await h.openSession()).code).toBe(PAM.SUCCESS.number);
    expect(await h.getenvlist()).toEqual(['GREETING=hello from wasm']);
    await h.end();
  });

  test('syslog lines go to pam_syslog with their priority', async () => {
    t.daemon.script = (_, peer) => {
      peer.send({ type: 'syslog', priority: 4, text: 'line 2 faulted: timeout' }, { type: 'syslog', priority: 6, text: 'opened' }, { type: 'result', code: 0 });
    };
    const svc = t.service('session required SHIM');
    const h = await t.handle(svc);
    expect((await h.openSession()).code).toBe(PAM.SUCCESS.number);
    await h.end();
    expect(t.syslog()).toEqual([
      `4 pam_wasm(${svc}:session): line 2 faulted: timeout`,
      `6 pam_wasm(${svc}:session): opened`,
    ]);
  });

  test('the session id is kept on the handle and sent at close', async () => {
    t.daemon.script = (req, peer) => {
      if (req.hook === 'open_session') peer.send({ type: 'session', id: 'sess-4f2a' });
      peer.send({ type: 'result', code: 0 });
    };
    const svc = t.service('session required SHIM');
    const h = await t.handle(svc);
    const other = await t.handle(svc);
    expect((await h.openSession()).code).toBe(PAM.SUCCESS.number);
    expect((await other.closeSession()).code).toBe(PAM.SUCCESS.number);
    expect((await h.closeSession()).code).toBe(PAM.SUCCESS.number);
    await h.end();
    await other.end();
    expect(t.daemon.requests.map((r) => [r.hook, r.sessionId])).toEqual([
      ['open_session', ''], ['close_session', ''], ['close_session', 'sess-4f2a'],
    ]);
  });
});

describe('time', () => {
  test('a prompt answered after longer than timeout= still succeeds', async () => {
    t.daemon.script = async (_, peer) => {
      peer.send({ type: 'prompt', style: 'echo-on', text: 'Reason: ' });
      const a = await peer.answer();
      peer.send({ type: 'result', code: a.text === 'maintenance' ? 0 : PAM.PERM_DENIED.number });
    };
    const h = await t.handle(t.service('session required SHIM timeout=300ms'), {
      conversation: async (ms) => { await delay(900); return ms.map(() => 'maintenance'); },
    });
    const [r, ms] = await timed(() => h.openSession());
    await h.end();
    expect(r.code).toBe(PAM.SUCCESS.number);
    expect(ms).toBeGreaterThan(900);
  });

  test('a daemon that accepts and never answers gives on_unavailable within timeout=', async () => {
    t.daemon.script = () => { /* silence */ };
    const h = await t.handle(t.service('session required SHIM timeout=300ms on_unavailable=perm_denied'));
    const [r, ms] = await timed(() => h.openSession({ throwOnError: false }));
    await h.end();
    expect(r.code).toBe(PAM.PERM_DENIED.number);
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(300 + 1500);
    expect(t.daemon.requests).toHaveLength(1);
  });

  test.each(['spin=0', 'spin=500us', 'spin=2ms', ''])('with %s, a quick and a slow answer both come through', async (spin) => {
    // The slow one comes after the module has stopped polling and sleeps in poll(2).
    let n = 0;
    t.daemon.script = async (_, peer) => {
      if (n++ % 2 === 1) await delay(30);
      peer.send({ type: 'putenv', entry: `N=${n}` }, { type: 'result', code: 0 });
    };
    const h = await t.handle(t.service(`session required SHIM ${spin}`));
    expect((await h.openSession()).code).toBe(PAM.SUCCESS.number);
    expect(await h.getenvlist()).toEqual(['N=1']);
    expect((await h.closeSession()).code).toBe(PAM.SUCCESS.number);
    expect(await h.getenvlist()).toEqual(['N=2']);
    await h.end();
  });

  test('polling for the answer stops at timeout=', async () => {
    t.daemon.script = () => { /* silence */ };
    const h = await t.handle(t.service('session required SHIM timeout=30ms spin=100ms'));
    const [r, ms] = await timed(() => h.openSession({ throwOnError: false }));
    await h.end();
    expect(r.code).toBe(PAM.SESSION_ERR.number);
    expect(ms).toBeGreaterThanOrEqual(29);
    // A poll that ran its whole 100 ms would end past it.
    expect(ms).toBeLessThan(95);
  });

  test('a daemon that goes quiet after a message is still bounded by timeout=', async () => {
    t.daemon.script = (_, peer) => { peer.send({ type: 'message', style: 'info', text: 'working' }); };
    const h = await t.handle(t.service('session required SHIM timeout=300ms'));
    const [r, ms] = await timed(() => h.openSession({ throwOnError: false }));
    await h.end();
    expect(r.code).toBe(PAM.SESSION_ERR.number);
    expect(ms).toBeLessThan(300 + 1500);
  });
});

describe('failing closed', () => {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

  test.each([
    ['no socket file', 'missing.sock'],
    ['a socket nobody listens on', 'stale.sock'],
  ])('with %s, the hook returns on_unavailable in under 50 ms', async (_, name) => {
    const path = `${t.dir}/${name}`;
    if (name === 'stale.sock') {
      const { FakeDaemon } = await import('./fake-daemon.js');
      await (await FakeDaemon.start(path)).close(); // leaves the socket file, as a crashed daemon does
    }
    const svc = t.service(`session required ${t.module} stack=${STACK} socket=${path} daemon_user=root on_unavailable=system_err`);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const h = await t.handle(svc);
      const [r, ms] = await timed(() => h.openSession({ throwOnError: false }));
      await h.end();
      expect(r.code).toBe(PAM.SYSTEM_ERR.number);
      times.push(ms);
    }
    expect(median(times)).toBeLessThan(50);
    expect(t.syslog().some((l) => l.includes('cannot reach the pamwasm daemon'))).toBe(true);
  });

  test('a socket listened on by a user who is neither root nor daemon_user is refused before anything is sent', async () => {
    // An impostor: nobody listens on a socket in a folder of its own.
    const dir = mkdtempSync(join(tmpdir(), 'pamwasm-impostor-'));
    chownSync(dir, NOBODY, NOBODY);
    const socket = join(dir, 's');
    const impostor = spawn(process.execPath, ['-e', `const s = require('node:net').createServer((c) => { let n = 0; c.on('data', (d) => { n += d.length; }); c.on('close', () => console.log('bytes', n)); });
      s.listen(process.argv[1], () => console.log('ready'));`, socket], { uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      impostor.stdout.on('data', (b: Buffer) => { out += b; });
      for (let i = 0; i < 200 && !out.includes('ready'); i++) await delay(25);
      const svc = t.service(`session required ${t.module} stack=${STACK} socket=${socket} daemon_user=root`);
      const h = await t.handle(svc);
      expect((await h.openSession({ throwOnError: false })).code).toBe(PAM.SESSION_ERR.number);
      await h.end();
      for (let i = 0; i < 200 && !out.includes('bytes'); i++) await delay(25);
      expect(out).toContain('bytes 0');
      expect(t.syslog().some((l) => l.includes('is not root'))).toBe(true);
    } finally {
      impostor.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a socket root listens on is served whatever daemon_user names: systemd, or the daemon before it drops root, made it', async () => {
    const svc = t.service(`session required ${t.module} stack=${STACK} socket=${t.socket} daemon_user=nobody`);
    const h = await t.handle(svc);
    expect((await h.openSession({ throwOnError: false })).code).toBe(PAM.SUCCESS.number);
    await h.end();
    expect(t.daemon.requests.at(-1)).toMatchObject({ type: 'hook', hook: 'open_session' });
  });

  test.each(['success', 'ignore', 'no_such_code'])('on_unavailable=%s is refused and session_err used', async (code) => {
    const svc = t.service(`session required ${t.module} stack=${STACK} socket=${t.dir}/missing.sock daemon_user=root on_unavailable=${code}`);
    const h = await t.handle(svc);
    expect((await h.openSession({ throwOnError: false })).code).toBe(PAM.SESSION_ERR.number);
    await h.end();
    expect(t.syslog().some((l) => l.includes(`on_unavailable=${code} refused`))).toBe(true);
  });

  test.each([
    ['no stack=', ''],
    ['a relative stack=', 'stack=relative.stack'],
    ['a bad timeout=', `stack=${STACK} timeout=soon`],
    ['a bad spin=', `stack=${STACK} spin=soon`],
    ['a spin= over 100ms', `stack=${STACK} spin=101ms`],
  ])('%s fails closed without connecting', async (_, args) => {
    const svc = t.service(`session required ${t.module} ${args} socket=${t.socket} daemon_user=root`);
    const h = await t.handle(svc);
    expect((await h.openSession({ throwOnError: false })).code).toBe(PAM.SESSION_ERR.number);
    await h.end();
    expect(t.daemon.connections).toHaveLength(0);
  });

  test('a daemon that closes without a RESULT gives on_unavailable', async () => {
    t.daemon.script = (_, peer) => { peer.send({ type: 'putenv', entry: 'A=1' }); peer.end(); };
    const h = await t.handle(t.service('session required SHIM on_unavailable=abort'));
    expect((await h.openSession({ throwOnError: false })).code).toBe(PAM.ABORT.number);
    await h.end();
  });
});
