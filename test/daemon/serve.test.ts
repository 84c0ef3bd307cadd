import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PAM } from '../../host/codes/index.js';
import { encodeFrame, FrameReader, type ToModule } from '../../host/daemon/protocol.js';
import { BIN, DaemonDir, hook, MODULES, startDaemonChild, type DaemonChild } from '../support/daemon.js';

const ITEMS = { service: 'sshd', user: 'alice', tty: 'ssh', rhost: '192.0.2.1' };

describe('pamwasm daemon serves pam_wasm.so hooks', () => {
  const d = new DaemonDir();
  let daemon: DaemonChild;
  let stamp: string;
  let prompting: string;

  beforeAll(async () => {
    stamp = d.stack('session required pam_stamp.wasm token=t1');
    // A module that asks the person for a name and puts it in the environment.
    const src = join(d.dir, 'asker');
    mkdirSync(src);
    writeFileSync(join(src, 'asker.c'), `
#include <stdio.h>
#include <stdlib.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>
int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  char *resp = NULL;
  if (pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &resp, "Name? ") != PAM_SUCCESS || !resp) return PAM_CONV_ERR;
  char entry[300];
  snprintf(entry, sizeof entry, "ANSWER=%s", resp);
  free(resp);
  /* Work after the answer: the line's clock is checked as it runs. */
  volatile unsigned sum = 0;
  for (unsigned i = 0; i < 3000000; i++) sum += i;
  return pam_putenv(pamh, entry);
}
int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) { return PAM_SUCCESS; }
`);
    execFileSync(process.execPath, [BIN, 'build', src, '--out', join(d.dir, 'asker.wasm')], { stdio: 'pipe' });
    prompting = d.stack(`session required [${join(d.dir, 'asker.wasm')} timeout=300ms]`);
    daemon = await startDaemonChild(d, ['--workers', '2']);
  }, 120_000);

  afterAll(async () => {
    await daemon?.stop();
    d.remove();
  });

  it('records a session before the open returns and closes it on the same instances, once', async () => {
    const o = await hook(d.socket, { hook: 'open_session', stack: stamp, items: ITEMS });
    expect(o.code).toBe(PAM.SUCCESS.number);
    expect(o.frames[0]).toEqual({ type: 'session', id: o.sessionId });
    const row = d.rows().find((r) => r.id === o.sessionId)!;
    expect(row.state).toBe('open');
    expect(row.ownerPid).toBe(process.pid);

    const c = await hook(d.socket, { hook: 'close_session', stack: stamp, items: ITEMS, sessionId: o.sessionId });
    expect(c.code).toBe(PAM.SUCCESS.number);
    expect(c.messages).toEqual(['pam_stamp: token=t1 user=alice tty=ssh']);
    await daemon.waitFor(new RegExp(`close session=${o.sessionId} service=sshd user=alice line=ssh .*code=PAM_SUCCESS`));
    expect(d.rows().find((r) => r.id === o.sessionId)).toMatchObject({ state: 'closed', closedBy: 'daemon', closeCode: 0 });

    const again = await hook(d.socket, { hook: 'close_session', stack: stamp, items: ITEMS, sessionId: o.sessionId });
    expect(again.code).toBe(PAM.SESSION_ERR.number);
    expect(again.messages).toEqual([]);
  });

  it('never falls back to the line for an id it does not know', async () => {
    const o = await hook(d.socket, { hook: 'open_session', stack: stamp, items: ITEMS });
    const c = await hook(d.socket, { hook: 'close_session', stack: stamp, items: ITEMS, sessionId: '00000000-0000-4000-8000-000000000000' });
    expect(c.code).toBe(PAM.SESSION_ERR.number);
    expect(d.rows().find((r) => r.id === o.sessionId)!.state).toBe('open');
    await hook(d.socket, { hook: 'close_session', stack: stamp, items: ITEMS, sessionId: o.sessionId });
  });

  it('finds a close without an id by its exact line, newest first', async () => {
    const a = await hook(d.socket, { hook: 'open_session', stack: stamp, items: ITEMS });
    const other = await hook(d.socket, { hook: 'open_session', stack: stamp, items: { ...ITEMS, rhost: '192.0.2.99' } });
    const b = await hook(d.socket, { hook: 'open_session', stack: stamp, items: ITEMS });
    await hook(d.socket, { hook: 'close_session', stack: stamp, items: ITEMS });
    await daemon.closesLogged([b.sessionId]);
    const state = (id?: string) => d.rows().find((r) => r.id === id)!.state;
    expect([state(a.sessionId), state(other.sessionId), state(b.sessionId)]).toEqual(['open', 'open', 'closed']);
    await hook(d.socket, { hook: 'close_session', stack: stamp, items: ITEMS });
    await hook(d.socket, { hook: 'close_session', stack: stamp, items: { ...ITEMS, rhost: '192.0.2.99' } });
    await daemon.closesLogged([a.sessionId, other.sessionId]);
    expect([state(a.sessionId), state(other.sessionId)]).toEqual(['closed', 'closed']);
  });

  it('pauses the line\'s time limit while the person answers a prompt', async () => {
    const o = await hook(d.socket, { hook: 'open_session', stack: prompting, items: ITEMS, answer: () => 'zoe', answerDelayMs: 1200 });
    expect(o.frames.filter((f) => f.type === 'prompt')).toEqual([{ type: 'prompt', style: 'echo-on', text: 'Name? ' }]);
    expect(o.code).toBe(PAM.SUCCESS.number);
    expect(o.puts).toEqual(['ANSWER=zoe']);
    await hook(d.socket, { hook: 'close_session', stack: prompting, items: ITEMS, sessionId: o.sessionId });
  });

  it('a prompt waiting for its answer holds only its own worker', async () => {
    let asked = 0;
    const waiting = hook(d.socket, { hook: 'open_session', stack: prompting, items: ITEMS, answer: () => { asked = Date.now(); return 'zoe'; }, answerDelayMs: 3000 });
    await vi.waitFor(() => expect(asked).toBeGreaterThan(0), { timeout: 10_000 });
    // Served by the other worker while the person has not answered yet.
    for (let i = 0; i < 3; i++) {
      const o = await hook(d.socket, { hook: 'open_session', stack: stamp, items: { ...ITEMS, tty: `pts/${i}` } });
      const c = await hook(d.socket, { hook: 'close_session', stack: stamp, items: { ...ITEMS, tty: `pts/${i}` }, sessionId: o.sessionId });
      expect([o.code, c.code]).toEqual([PAM.SUCCESS.number, PAM.SUCCESS.number]);
    }
    expect(Date.now() - asked).toBeLessThan(3000);
    const o = await waiting;
    expect([o.code, o.puts]).toEqual([PAM.SUCCESS.number, ['ANSWER=zoe']]);
    await hook(d.socket, { hook: 'close_session', stack: prompting, items: ITEMS, sessionId: o.sessionId });
  });

  it('fails a prompt the application cannot answer with the conversation\'s error', async () => {
    const o = await hook(d.socket, { hook: 'open_session', stack: prompting, items: ITEMS, answer: () => undefined });
    expect(o.code).toBe(PAM.CONV_ERR.number);
    expect(d.rows().find((r) => r.id === o.sessionId)!.state).toBe('failed');
  });

  it('fails a hook on a stack it cannot read closed, and keeps serving', async () => {
    const o = await hook(d.socket, { hook: 'open_session', stack: join(d.dir, 'missing.stack'), items: ITEMS });
    expect(o.code).toBe(PAM.SESSION_ERR.number);
    const ok = await hook(d.socket, { hook: 'open_session', stack: stamp, items: ITEMS });
    expect(ok.code).toBe(PAM.SUCCESS.number);
    await hook(d.socket, { hook: 'close_session', stack: stamp, items: ITEMS, sessionId: ok.sessionId });
  });
  it('applies a changed stack or module file to new sessions only', async () => {
    const module = join(d.dir, 'changing.wasm');
    copyFileSync(join(MODULES, 'pam_stamp.wasm'), module);
    const stack = d.stack(`session required ${module} token=first`);
    const before = await hook(d.socket, { hook: 'open_session', stack, items: ITEMS });
    // The stack's argument changes; then the module file itself is replaced by another module.
    writeFileSync(stack, `session required ${module} token=second\n`);
    const middle = await hook(d.socket, { hook: 'open_session', stack, items: ITEMS });
    copyFileSync(join(MODULES, 'pam_echo.wasm'), `${module}.new`);
    renameSync(`${module}.new`, module);
    writeFileSync(stack, `session optional ${module} echoed %u\nsession required pam_permit.wasm\n`);
    const after = await hook(d.socket, { hook: 'open_session', stack, items: ITEMS });
    expect([before.code, middle.code, after.code]).toEqual([0, 0, 0]);
    expect(after.messages).toEqual(['echoed alice']);
    const close = (o: typeof before) => hook(d.socket, { hook: 'close_session', stack, items: ITEMS, sessionId: o.sessionId });
    expect((await close(before)).messages).toEqual(['pam_stamp: token=first user=alice tty=ssh']);
    expect((await close(middle)).messages).toEqual(['pam_stamp: token=second user=alice tty=ssh']);
    expect((await close(after)).code).toBe(PAM.SUCCESS.number);
  });

  it('runs every close of a session on the instances that opened it, whichever worker accepts the close', async () => {
    const lines = Array.from({ length: 8 }, (_, i) => ({ ...ITEMS, tty: `pts/${40 + i}` }));
    const opened = await Promise.all(lines.map((items) => hook(d.socket, { hook: 'open_session', stack: stamp, items })));
    expect(opened.map((o) => o.code)).toEqual(lines.map(() => PAM.SUCCESS.number));
    const closed = await Promise.all(opened.map((o, i) => hook(d.socket, { hook: 'close_session', stack: stamp, items: lines[i], sessionId: o.sessionId })));
    expect(closed.map((c) => c.code)).toEqual(lines.map(() => PAM.SUCCESS.number));
    await daemon.closesLogged(opened.map((o) => o.sessionId!));
    const rows = new Map(d.rows().map((r) => [r.id, r]));
    // On fresh instances they would say daemon-record.
    expect(opened.map((o) => rows.get(o.sessionId!)!.closedBy)).toEqual(lines.map(() => 'daemon'));
    // Each close was logged by the worker that opened the session.
    const workerOf = (what: string, id: string) => /worker=(\d+)/.exec(daemon.log.find((l) => l.includes(`${what} session=${id} `))!)![1];
    expect(opened.map((o) => workerOf('close', o.sessionId!))).toEqual(opened.map((o) => workerOf('open', o.sessionId!)));
  });

  it('serves a request that comes slowly, in pieces, and serves others meanwhile', async () => {
    const frame = encodeFrame({ type: 'hook', hook: 'open_session', flags: 0, pid: process.pid, stack: stamp, sessionId: '', argv: [], items: { ...ITEMS, tty: 'pts/60' }, env: [] });
    const s = connect(d.socket);
    const reader = new FrameReader('to-module');
    const frames: ToModule[] = [];
    s.on('data', (c: Buffer) => frames.push(...reader.push(c)));
    const ended = new Promise((resolve) => s.on('close', resolve));
    await new Promise((resolve) => s.once('connect', resolve));
    s.write(frame.subarray(0, 10));
    // Others are served while this request is incomplete, on both workers.
    const others = await Promise.all([0, 1, 2].map((i) => hook(d.socket, { hook: 'open_session', stack: stamp, items: { ...ITEMS, tty: `pts/${61 + i}` } })));
    expect(others.map((o) => o.code)).toEqual([0, 0, 0]);
    await new Promise((r) => setTimeout(r, 400));
    expect(frames).toEqual([]);
    s.end(frame.subarray(10));
    await ended;
    expect(frames.at(-1)).toEqual({ type: 'result', code: PAM.SUCCESS.number });
    expect(frames[0]).toMatchObject({ type: 'session' });
  });
});

