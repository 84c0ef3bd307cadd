import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAM } from '../../host/codes/index.js';
import { encodeFrame, FrameReader, type HookFrame } from '../../host/daemon/protocol.js';
import { DaemonDir, hook, startDaemonChild, type DaemonChild } from '../support/daemon.js';

/** mulberry32: a seeded generator, so a failing case can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sends `bytes`, half-closes, and collects what comes back until the daemon closes (or `ms` pass). */
function exchange(socket: string, bytes: Buffer, ms = 15_000): Promise<{ reply: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect(socket, () => s.end(bytes));
    const t = setTimeout(() => { s.destroy(); resolve({ reply: Buffer.concat(chunks), closed: false }); }, ms);
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(t); resolve({ reply: Buffer.concat(chunks), closed: true }); });
  });
}

describe('malformed frames never crash the daemon', () => {
  const d = new DaemonDir();
  let daemon: DaemonChild;
  let stack: string;
  beforeAll(async () => {
    stack = d.stack('session required pam_permit.wasm');
    daemon = await startDaemonChild(d, ['--workers', '2']);
  }, 60_000);
  afterAll(async () => {
    await daemon?.stop();
    d.remove();
  });

  it('answers each of 600 malformed or mutated requests with a well-formed reply or a closed connection, and keeps serving', async () => {
    const rand = prng(0x5eed14);
    const int = (n: number) => Math.floor(rand() * n);
    const valid: HookFrame = {
      type: 'hook', hook: 'open_session', flags: 0, pid: process.pid, stack, sessionId: '', argv: ['a=b'],
      items: { service: 'sshd', user: 'alice', tty: 'ssh' }, env: ['LANG=C'],
    };
    const good = encodeFrame(valid);
    const makers: (() => Buffer)[] = [
      () => Buffer.from(Array.from({ length: int(600) }, () => int(256))),
      () => { const b = Buffer.from(good); for (let k = 0; k <= int(4); k++) b[int(b.length)] = int(256); return b; },
      () => good.subarray(0, int(good.length)),
      () => Buffer.concat([good, Buffer.from(Array.from({ length: 1 + int(40) }, () => int(256)))]),
      () => { const b = Buffer.from(good); b.writeUInt32BE([0, 0xffffffff, 262145, b.length + 1 + int(100), int(b.length - 4)][int(5)], 0); return b; },
      () => Buffer.concat([good, encodeFrame({ type: 'answer', code: 0, text: 'x' })]),
      () => Buffer.concat([good, good]),
      () => encodeFrame({ type: 'answer', code: 0, text: 'out of turn' }),
      () => encodeFrame({ type: 'result', code: 0 }),
      () => { const b = Buffer.from(good); b[5] = [0, 2, 255][int(3)]; return b; }, // protocol version
    ];
    const cases = Array.from({ length: 600 }, (_, i) => ({ i, bytes: makers[i % makers.length]() }));
    let next = 0;
    const bad: string[] = [];
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < cases.length) {
        const c = cases[next++];
        const { reply, closed } = await exchange(d.socket, c.bytes);
        if (!closed) bad.push(`case ${c.i}: connection left open`);
        try {
          const reader = new FrameReader('to-module');
          const frames = reader.push(reply);
          if (reader.pending !== 0) bad.push(`case ${c.i}: reply cut inside a frame`);
          if (frames.length && frames.at(-1)!.type !== 'result') bad.push(`case ${c.i}: reply does not end with RESULT`);
        } catch (e) {
          bad.push(`case ${c.i}: malformed reply: ${(e as Error).message}`);
        }
      }
    }));
    expect(bad).toEqual([]);
    expect(daemon.child.exitCode).toBeNull();
    const o = await hook(d.socket, { hook: 'open_session', stack });
    expect(o.code).toBe(PAM.SUCCESS.number);
    expect((await hook(d.socket, { hook: 'close_session', stack, sessionId: o.sessionId })).code).toBe(PAM.SUCCESS.number);
    expect(daemon.log.some((l) => /refused a connection: pid \d+: malformed frame/.test(l))).toBe(true);
  }, 180_000);
});
