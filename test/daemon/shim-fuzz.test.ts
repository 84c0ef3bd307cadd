/**
 * A seeded fuzz of the daemon's replies to pam_wasm.so: random bytes,
 * truncated frames, bad lengths, bad types, over-long strings, bad UTF-8 and
 * wrong codes, sent to the real module inside the real libpam, which runs in
 * a helper process so that a crash would be seen (PamHelperCrashedError).
 *
 * The codec is the oracle: the module must return the code of the first
 * RESULT when every frame before it decodes, and on_unavailable otherwise.
 * Set PAMWASM_FUZZ_SEED to replay another seed.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PAM } from '../../host/codes/index.js';
import {
  MAX_FRAME, MAX_STRING, decodeFrameBody, encodeFrame, frameLength, type ToModule,
} from '../../host/daemon/protocol.js';
import { ShimBench } from './shim-support.js';

const SEED = Number(process.env.PAMWASM_FUZZ_SEED ?? 0x5eed14);
const CASES = 300;
const HELD = 8; // cases whose connection stays open: the module must give up at timeout=
const ON_UNAVAILABLE = PAM.AUTHINFO_UNAVAIL.number;

const t = new ShimBench();
beforeAll(() => t.start());
afterAll(() => t.cleanup());

/** mulberry32: a small seeded PRNG, so a failing case can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!, bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => int(256))) };
}

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
const frame = (type: number, body: Buffer) => Buffer.concat([u32(body.length + 1), Buffer.of(type), body]);

const GOOD: ToModule[] = [
  { type: 'message', style: 'info', text: 'hello' },
  { type: 'putenv', entry: 'FUZZ=1' },
  { type: 'syslog', priority: 6, text: 'line' },
  { type: 'session', id: 'id-1' },
  { type: 'result', code: 0 },
];

/** One malformed (or, by chance, well-formed) reply stream. */
function mutate(r: ReturnType<typeof prng>): { kind: string; bytes: Buffer } {
  const frames = GOOD.map(encodeFrame);
  const at = r.int(frames.length);
  const valid = Buffer.concat(frames);
  const kind = r.pick(['random', 'truncated', 'length', 'type', 'long-string', 'code', 'flip', 'string', 'trailing'] as const);
  switch (kind) {
    case 'random': return { kind, bytes: r.bytes(1 + r.int(64)) };
    case 'truncated': return { kind, bytes: valid.subarray(0, r.int(valid.length)) };
    case 'length': {
      const f = Buffer.from(frames[at]!);
      const len = f.readUInt32BE(0);
      f.writeUInt32BE(r.pick([0, MAX_FRAME + 1, 0xffffffff, len - 1, len + 1, r.int(2 ** 32)]) >>> 0);
      frames[at] = f;
      break;
    }
    case 'type': { const f = Buffer.from(frames[at]!); f[4] = r.int(256); frames[at] = f; break; }
    case 'long-string': {
      const n = r.pick([MAX_STRING + 1, 0xffffffff, 2 ** 31]);
      frames[at] = frame(0x10, Buffer.concat([Buffer.of(4), u32(n), Buffer.alloc(Math.min(n, MAX_STRING + 1), 0x61)]));
      break;
    }
    case 'code': frames[at] = r.pick([
      frame(0x1f, u32(r.pick([32, 33, 255, 256, 32 + r.int(2 ** 32 - 32)]))), frame(0x13, Buffer.concat([Buffer.of(8 + r.int(248)), u32(0)])),
      frame(0x10, Buffer.concat([Buffer.of(r.pick([0, 1, 2, 5, 255])), u32(0)])), frame(0x11, Buffer.concat([Buffer.of(r.pick([0, 3, 4, 9])), u32(0)])),
      frame(0x12, Buffer.concat([u32(0)])), frame(0x12, Buffer.concat([u32(2), Buffer.from('=x')])),
    ]); break;
    case 'string': {
      const bad = r.pick([Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('a\0b'), Buffer.from([0xe2, 0x82])]);
      frames[at] = frame(r.pick([0x10, 0x13]), Buffer.concat([Buffer.of(4), u32(bad.length), bad]));
      break;
    }
    case 'trailing': { const f = Buffer.concat([frames[at]!, Buffer.of(0)]); f.writeUInt32BE(f.length - 4); frames[at] = f; break; }
    case 'flip': { const b = Buffer.from(valid); b[r.int(b.length)] ^= 1 << r.int(8); return { kind, bytes: b }; }
  }
  return { kind, bytes: Buffer.concat(frames) };
}

/** What the module must return for this stream, by the codec's rules. */
function oracle(bytes: Buffer): number {
  let at = 0;
  try {
    while (bytes.length - at >= 4) {
      const n = frameLength(bytes.subarray(at));
      if (bytes.length - at - 4 < n) return ON_UNAVAILABLE;
      const f = decodeFrameBody('to-module', bytes.subarray(at + 4, at + 4 + n));
      if (f.type === 'result') return f.code;
      at += 4 + n;
    }
  } catch {
    return ON_UNAVAILABLE;
  }
  return ON_UNAVAILABLE;
}

test(`${CASES} malformed replies (seed ${SEED}) never crash or hang the application and give on_unavailable`, async () => {
  const r = prng(SEED);
  const svc = t.service(`session required SHIM timeout=200ms on_unavailable=authinfo_unavail`);
  const kinds = new Map<string, number>();
  let refused = 0;
  for (let i = 0; i < CASES; i++) {
    const { kind, bytes } = mutate(r);
    const held = i < HELD;
    t.daemon.script = (_, peer) => { peer.sendRaw(bytes); if (!held) peer.end(); };
    const h = await t.handle(svc);
    const result = await h.openSession({ throwOnError: false });
    await h.end();
    const want = oracle(bytes);
    if (want === ON_UNAVAILABLE) refused++;
    if (result.code !== want) throw new Error(`case ${i} (${kind}, seed ${SEED}): got ${result.name}, want ${want}; bytes ${bytes.toString('hex').slice(0, 200)}`);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  expect(kinds.size).toBe(9);
  expect(refused).toBeGreaterThan(CASES * 0.8);
  // The same helper, and so the same application process, still serves a good daemon.
  t.daemon.script = (_, peer) => { peer.send({ type: 'result', code: 0 }); peer.end(); };
  const h = await t.handle(svc);
  expect((await h.openSession()).code).toBe(PAM.SUCCESS.number);
  await h.end();
}, 120_000);
