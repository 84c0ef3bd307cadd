/**
 * The protocol codec (host/daemon/protocol.ts) against docs/protocol.md:
 * every frame comes back as it was sent, and every shape the page does not
 * allow is refused with ERR_PAMWASM_PROTOCOL and the rule it broke.
 */
import { describe, expect, test } from 'vitest';
import {
  FrameReader, MAX_FRAME, MAX_STRING, MAX_STRINGS, decodeFrame, encodeFrame,
  type Direction, type Frame, type HookFrame,
} from '../../host/daemon/protocol.js';
import { ProtocolError, type ProtocolFault } from '../../host/errors/index.js';

const hook: HookFrame = {
  type: 'hook', hook: 'open_session', flags: 0x8000, pid: 4242,
  stack: '/etc/pamwasm/sshd.stack', sessionId: '',
  argv: ['greeting=hello world', 'x'],
  items: { service: 'sshd', user: 'root', tty: 'ssh', rhost: '127.0.0.1', ruser: '', xdisplay: ':0' },
  env: ['PATH=/usr/bin', 'EMPTY='],
};

const toModule: Frame[] = [
  { type: 'message', style: 'info', text: 'Welcome' },
  { type: 'message', style: 'error', text: 'ünïcode ✓' },
  { type: 'prompt', style: 'echo-off', text: 'Code: ' },
  { type: 'prompt', style: 'echo-on', text: '' },
  { type: 'putenv', entry: 'GREETING=hello' },
  { type: 'putenv', entry: 'GREETING' },
  { type: 'syslog', priority: 0, text: 'emerg' },
  { type: 'syslog', priority: 7, text: 'debug' },
  { type: 'session', id: '0123456789abcdef' },
  { type: 'result', code: 0 },
  { type: 'result', code: 31 },
];
const toDaemon: Frame[] = [
  hook,
  { ...hook, hook: 'close_session', sessionId: 'abc', argv: [], items: {}, env: [] },
  { type: 'answer', code: 0, text: 'secret answer' },
  { type: 'answer', code: 19, text: '' },
];

/** A frame from a type byte and raw body parts: for shapes the encoder refuses to write. */
function raw(type: number, ...parts: (Buffer | number[])[]): Buffer {
  const body = Buffer.concat([Buffer.of(type), ...parts.map((p) => Buffer.isBuffer(p) ? p : Buffer.from(p))]);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const str = (s: string | Buffer) => { const b = Buffer.isBuffer(s) ? s : Buffer.from(s); return Buffer.concat([u32(b.length), b]); };

function refused(direction: Direction, bytes: Buffer, reason: ProtocolFault): void {
  let error: unknown;
  try { decodeFrame(direction, bytes); } catch (e) { error = e; }
  expect(error).toBeInstanceOf(ProtocolError);
  expect((error as ProtocolError).code).toBe('ERR_PAMWASM_PROTOCOL');
  expect((error as ProtocolError).reason).toBe(reason);
}

function encodeRefused(frame: unknown, reason: ProtocolFault): void {
  let error: unknown;
  try { encodeFrame(frame as Frame); } catch (e) { error = e; }
  expect(error).toBeInstanceOf(ProtocolError);
  expect((error as ProtocolError).reason).toBe(reason);
}

describe('every frame comes back as it was sent', () => {
  test.each(toModule.map((f) => [f.type, f] as const))('%s, daemon to module', (_, f) => {
    expect(decodeFrame('to-module', encodeFrame(f))).toEqual(f);
  });
  test.each(toDaemon.map((f) => [f.type, f] as const))('%s, module to daemon', (_, f) => {
    expect(decodeFrame('to-daemon', encodeFrame(f))).toEqual(f);
  });

  test('a HOOK frame has the layout of the page', () => {
    const bytes = encodeFrame({ type: 'hook', hook: 'close_session', flags: 1, pid: 2, stack: '/s', sessionId: 'i', argv: ['a'], items: { user: 'u', service: 's' }, env: ['A=1'] });
    expect(bytes).toEqual(raw(0x01, [1, 2], u32(1), u32(2), str('/s'), str('i'), u32(1), str('a'), u32(2), [1], str('s'), [2], str('u'), u32(1), str('A=1')));
  });

  test('strings and lists at their limits pass', () => {
    const long = 'x'.repeat(MAX_STRING);
    expect(decodeFrame('to-module', encodeFrame({ type: 'message', style: 'info', text: long }))).toEqual({ type: 'message', style: 'info', text: long });
    const many = Array.from({ length: MAX_STRINGS }, (_, i) => `a${i}`);
    expect((decodeFrame('to-daemon', encodeFrame({ ...hook, argv: many })) as HookFrame).argv).toEqual(many);
  });

  test('a reader cuts a stream fed one byte at a time into its frames', () => {
    const stream = Buffer.concat(toModule.map(encodeFrame));
    const reader = new FrameReader('to-module');
    const got: Frame[] = [];
    for (const byte of stream) got.push(...reader.push(Buffer.of(byte)));
    expect(got).toEqual(toModule);
    expect(reader.pending).toBe(0);
  });

  test('a reader keeps a partial frame as pending', () => {
    const reader = new FrameReader('to-daemon');
    const bytes = encodeFrame(hook);
    expect(reader.push(bytes.subarray(0, 10))).toEqual([]);
    expect(reader.pending).toBe(10);
    expect(reader.push(bytes.subarray(10))).toEqual([hook]);
  });
});

describe('a malformed frame is refused with the rule it broke', () => {
  test('a zero length', () => refused('to-module', Buffer.from([0, 0, 0, 0]), 'length'));
  test('a length over 256 KiB', () => refused('to-module', Buffer.concat([u32(MAX_FRAME + 1), Buffer.alloc(MAX_FRAME + 1)]), 'length'));
  test('a reader refuses a huge length before the body arrives', () => {
    const reader = new FrameReader('to-daemon');
    expect(() => reader.push(u32(0xffffffff))).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_PROTOCOL', reason: 'length' }));
    expect(() => reader.push(encodeFrame(hook))).toThrow(expect.objectContaining({ reason: 'broken' }));
  });
  test('a cut prefix', () => refused('to-module', Buffer.from([0, 0]), 'truncated'));
  test('a frame shorter than its length', () => refused('to-module', encodeFrame({ type: 'result', code: 0 }).subarray(0, 6), 'truncated'));
  test('bytes after the frame', () => refused('to-module', Buffer.concat([encodeFrame({ type: 'result', code: 0 }), Buffer.of(0)]), 'trailing'));
  test('an unknown type', () => refused('to-module', raw(0x15, u32(0)), 'type'));
  test('a type sent the wrong way', () => {
    refused('to-daemon', encodeFrame({ type: 'result', code: 0 }), 'direction');
    refused('to-module', encodeFrame(hook), 'direction');
  });
  test('a field running past the end', () => refused('to-module', raw(0x1f, [0, 0, 0]), 'truncated'));
  test('a string running past the end', () => refused('to-module', raw(0x14, u32(10), Buffer.from('abc')), 'truncated'));
  test('a field left over', () => refused('to-module', raw(0x1f, u32(0), [0]), 'trailing'));
  test('a string over 64 KiB', () => refused('to-module', raw(0x14, str(Buffer.alloc(MAX_STRING + 1, 0x61))), 'string'));
  test('a string length far past the frame', () => refused('to-module', raw(0x14, u32(0xffffffff)), 'string'));
  test('a string with a NUL byte', () => refused('to-module', raw(0x12, str('A=\0b')), 'string'));
  test('a string that is not UTF-8', () => refused('to-module', raw(0x14, str(Buffer.from([0xc3, 0x28]))), 'string'));
  test('a list over 1024 entries', () => {
    const head = [Buffer.of(1, 1), u32(0), u32(1), str('/s'), str('')];
    refused('to-daemon', raw(0x01, ...head, u32(MAX_STRINGS + 1)), 'count');
  });
  test('another protocol version', () => refused('to-daemon', raw(0x01, [2, 1], u32(0), u32(1), str('/s'), str(''), u32(0), u32(0), u32(0)), 'version'));
  test('an unknown hook', () => refused('to-daemon', raw(0x01, [1, 3], u32(0), u32(1), str('/s'), str(''), u32(0), u32(0), u32(0)), 'value'));
  test('a relative stack path', () => refused('to-daemon', raw(0x01, [1, 1], u32(0), u32(1), str('s'), str(''), u32(0), u32(0), u32(0)), 'value'));
  test('the authtok as an item', () => refused('to-daemon', raw(0x01, [1, 1], u32(0), u32(1), str('/s'), str(''), u32(0), u32(1), [6], str('pw'), u32(0)), 'value'));
  test('an item twice', () => refused('to-daemon', raw(0x01, [1, 1], u32(0), u32(1), str('/s'), str(''), u32(0), u32(2), [2], str('a'), [2], str('b'), u32(0)), 'value'));
  test('an env entry without a name', () => refused('to-daemon', raw(0x01, [1, 1], u32(0), u32(1), str('/s'), str(''), u32(0), u32(0), u32(1), str('=x')), 'value'));
  test('a message style that is a prompt', () => refused('to-module', raw(0x10, [1], str('x')), 'value'));
  test('a prompt style that is a message', () => refused('to-module', raw(0x11, [4], str('x')), 'value'));
  test('a put-env entry without a name', () => refused('to-module', raw(0x12, str('=x')), 'value'));
  test('a syslog priority over 7', () => refused('to-module', raw(0x13, [8], str('x')), 'value'));
  test('a result code over 31', () => refused('to-module', raw(0x1f, u32(32)), 'value'));
  test('a failed answer with text', () => refused('to-daemon', raw(0x02, u32(19), str('x')), 'value'));
  test('an answer code over 31', () => refused('to-daemon', raw(0x02, u32(1000), str('')), 'value'));
});

describe('the encoder refuses what the decoder would', () => {
  test('a string over the limit', () => encodeRefused({ type: 'session', id: 'x'.repeat(MAX_STRING + 1) }, 'string'));
  test('a string with a NUL', () => encodeRefused({ type: 'message', style: 'info', text: 'a\0b' }, 'string'));
  test('a lone surrogate', () => encodeRefused({ type: 'message', style: 'info', text: '\ud800' }, 'string'));
  test('a code out of range', () => encodeRefused({ type: 'result', code: -1 }, 'value'));
  test('an unknown style', () => encodeRefused({ type: 'prompt', style: 'radio', text: '' }, 'value'));
  test('an item that is never sent', () => encodeRefused({ ...hook, items: { authtok: 'pw' } }, 'value'));
  test('too many argv entries', () => encodeRefused({ ...hook, argv: Array(MAX_STRINGS + 1).fill('a') }, 'count'));
  test('a frame over 256 KiB', () => encodeRefused({ ...hook, argv: Array(5).fill('x'.repeat(MAX_STRING)) }, 'length'));
  test('a flags value that is not a u32', () => encodeRefused({ ...hook, flags: 2 ** 32 }, 'value'));
});
