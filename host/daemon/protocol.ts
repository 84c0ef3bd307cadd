/**
 * The pam_wasm.so ⇄ `pamwasm daemon` protocol, version 1 (docs/protocol.md):
 * one encoder and one strict decoder, shared by the daemon and the tests.
 *
 * The decoder refuses anything the page does not allow (a length out of
 * range, an unknown type, a field running past the end, bytes left over, a
 * string that is too long, not UTF-8 or holds a NUL, a value out of its
 * range, a frame sent the wrong way) with a ProtocolError whose `reason`
 * says which rule was broken. The encoder checks the same rules, so a frame
 * it writes always decodes.
 *
 * @example
 *   const bytes = encodeFrame({ type: 'result', code: 0 });
 *   const reader = new FrameReader('to-module');
 *   reader.push(bytes);       // [{ type: 'result', code: 0 }]
 */
import { PAM_ITEMS } from '../libpam/constants.js';
import { PAM_RETURN_VALUES } from '../codes/index.js';
import { ProtocolError, type ProtocolFault } from '../errors/index.js';
import type { PromptStyle, WitItem } from '../wit/bindings.js';

export const PROTOCOL_VERSION = 1;
/** Largest `L` (type byte plus body) of one frame. */
export const MAX_FRAME = 262144;
/** Largest string, in UTF-8 bytes. */
export const MAX_STRING = 65536;
/** Most strings in one list. */
export const MAX_STRINGS = 1024;
/** The pam_set_data name under which the module keeps the session id. */
export const SESSION_DATA_NAME = 'pamwasm_session_id';

export const FRAME_TYPES = {
  hook: 0x01,
  answer: 0x02,
  message: 0x10,
  prompt: 0x11,
  putenv: 0x12,
  syslog: 0x13,
  session: 0x14,
  result: 0x1f,
} as const;

export type FrameTypeName = keyof typeof FRAME_TYPES;

export const HOOKS = { open_session: 1, close_session: 2 } as const;
export type HookName = keyof typeof HOOKS;

/** The items a HOOK frame carries; never PAM_AUTHTOK or PAM_OLDAUTHTOK. */
export const PROTOCOL_ITEMS = ['service', 'user', 'tty', 'rhost', 'ruser', 'xdisplay'] as const satisfies readonly WitItem[];
export type ProtocolItem = (typeof PROTOCOL_ITEMS)[number];
export type ProtocolItems = Partial<Record<ProtocolItem, string>>;

/** Message styles by frame: MESSAGE shows, PROMPT asks (pam_conv(3) numbers). */
export const MESSAGE_STYLE = { error: 3, info: 4 } as const;
// Every WIT prompt-style case (generated from wit/) has its pam_conv(3) number.
export const PROMPT_STYLE = { 'echo-off': 1, 'echo-on': 2 } as const satisfies Record<PromptStyle, number>;
export type MessageStyleName = keyof typeof MESSAGE_STYLE;
export type PromptStyleName = keyof typeof PROMPT_STYLE;

/** Module → daemon: the one frame that opens a connection. */
export interface HookFrame {
  type: 'hook';
  hook: HookName;
  flags: number;
  pid: number;
  /** The `stack=` path, absolute. */
  stack: string;
  /** The id kept on the handle, '' if none. */
  sessionId: string;
  argv: string[];
  items: ProtocolItems;
  /** pam_getenvlist, each `NAME=value`. */
  env: string[];
}

/** Module → daemon, only right after a PROMPT. `text` is '' unless `code` is 0. */
export interface AnswerFrame { type: 'answer'; code: number; text: string }

export interface MessageFrame { type: 'message'; style: MessageStyleName; text: string }
export interface PromptFrame { type: 'prompt'; style: PromptStyleName; text: string }
/** `NAME=value` sets, `NAME` unsets (pam_putenv(3)). */
export interface PutenvFrame { type: 'putenv'; entry: string }
/** priority 0..7, LOG_EMERG..LOG_DEBUG. */
export interface SyslogFrame { type: 'syslog'; priority: number; text: string }
export interface SessionFrame { type: 'session'; id: string }
export interface ResultFrame { type: 'result'; code: number }

export type ToDaemon = HookFrame | AnswerFrame;
export type ToModule = MessageFrame | PromptFrame | PutenvFrame | SyslogFrame | SessionFrame | ResultFrame;
export type Frame = ToDaemon | ToModule;
export type Direction = 'to-daemon' | 'to-module';

const DIRECTION: Record<FrameTypeName, Direction> = {
  hook: 'to-daemon', answer: 'to-daemon',
  message: 'to-module', prompt: 'to-module', putenv: 'to-module',
  syslog: 'to-module', session: 'to-module', result: 'to-module',
};
const TYPE_BY_NUMBER = new Map(Object.entries(FRAME_TYPES).map(([k, v]) => [v as number, k as FrameTypeName]));
const HOOK_BY_NUMBER = new Map(Object.entries(HOOKS).map(([k, v]) => [v as number, k as HookName]));
const ITEM_BY_NUMBER = new Map(PROTOCOL_ITEMS.map((name) => [PAM_ITEMS[name] as number, name]));
const MESSAGE_BY_NUMBER = new Map(Object.entries(MESSAGE_STYLE).map(([k, v]) => [v as number, k as MessageStyleName]));
const PROMPT_BY_NUMBER = new Map(Object.entries(PROMPT_STYLE).map(([k, v]) => [v as number, k as PromptStyleName]));
const U32_MAX = 0xffffffff;

const fail = (reason: ProtocolFault, message: string): never => { throw new ProtocolError(reason, message); };

// ---------------------------------------------------------------- checks

function checkString(s: string, what: string): Buffer {
  if (typeof s !== 'string') fail('value', `${what} is not a string`);
  if (s.includes('\0')) fail('string', `${what} holds a NUL byte`);
  const bytes = Buffer.from(s, 'utf8');
  // A lone surrogate would be written as U+FFFD and read back changed.
  if (bytes.toString('utf8') !== s) fail('string', `${what} is not valid Unicode`);
  if (bytes.length > MAX_STRING) fail('string', `${what} is ${bytes.length} bytes, over the ${MAX_STRING}-byte limit`);
  return bytes;
}

function checkU32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > U32_MAX) fail('value', `${what} ${n} is not a u32`);
  return n;
}

function checkCode(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n >= PAM_RETURN_VALUES) fail('value', `${what} ${n} is not a PAM code (0..${PAM_RETURN_VALUES - 1})`);
  return n;
}

function checkPriority(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 7) fail('value', `syslog priority ${n} is not 0..7`);
  return n;
}

function checkStack(s: string): string {
  if (!s.startsWith('/')) fail('value', `stack path "${s}" is not absolute`);
  return s;
}

function checkEnvEntry(s: string): string {
  if (s.indexOf('=') < 1) fail('value', `env entry "${s}" is not NAME=value`);
  return s;
}

function checkPutenvEntry(s: string): string {
  if (s === '' || s.startsWith('=')) fail('value', `put-env entry "${s}" has no name`);
  return s;
}

function checkAnswer(code: number, text: string): void {
  checkCode(code, 'answer code');
  if (code !== 0 && text !== '') fail('value', 'a failed answer carries text');
}

// ---------------------------------------------------------------- encoding

class Writer {
  private parts: Buffer[] = [];
  u8(n: number): this { this.parts.push(Buffer.of(n)); return this; }
  u32(n: number): this { const b = Buffer.alloc(4); b.writeUInt32BE(n); this.parts.push(b); return this; }
  str(s: string, what: string): this { const b = checkString(s, what); this.u32(b.length); this.parts.push(b); return this; }
  strs(list: string[], what: string): this {
    if (!Array.isArray(list) || list.length > MAX_STRINGS) fail('count', `${what} has more than ${MAX_STRINGS} entries`);
    this.u32(list.length);
    list.forEach((s, i) => this.str(s, `${what}[${i}]`));
    return this;
  }
  frame(type: number): Buffer {
    const body = Buffer.concat(this.parts);
    if (body.length + 1 > MAX_FRAME) fail('length', `frame of ${body.length + 1} bytes is over the ${MAX_FRAME}-byte limit`);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(body.length + 1);
    head[4] = type;
    return Buffer.concat([head, body]);
  }
}

function styleNumber<T extends string>(table: Record<T, number>, style: T, what: string): number {
  const n = table[style];
  if (n === undefined) fail('value', `${what} style "${style}" is not one of ${Object.keys(table).join(', ')}`);
  return n;
}

/** The bytes of one frame, length prefix included. Throws ProtocolError for a value the page does not allow. */
export function encodeFrame(f: Frame): Buffer {
  const w = new Writer();
  switch (f.type) {
    case 'hook': {
      const hook = HOOKS[f.hook];
      if (hook === undefined) fail('value', `hook "${f.hook}" is not open_session or close_session`);
      w.u8(PROTOCOL_VERSION).u8(hook).u32(checkU32(f.flags, 'flags')).u32(checkU32(f.pid, 'pid'));
      w.str(checkStack(f.stack), 'stack').str(f.sessionId, 'session id').strs(f.argv, 'argv');
      const set = PROTOCOL_ITEMS.filter((name) => f.items[name] !== undefined);
      for (const key of Object.keys(f.items)) {
        if (!(PROTOCOL_ITEMS as readonly string[]).includes(key)) fail('value', `item "${key}" is not sent`);
      }
      w.u32(set.length);
      for (const name of set) w.u8(PAM_ITEMS[name]).str(f.items[name]!, `item ${name}`);
      f.env.forEach(checkEnvEntry);
      w.strs(f.env, 'env');
      break;
    }
    case 'answer': checkAnswer(f.code, f.text); w.u32(f.code).str(f.text, 'answer text'); break;
    case 'message': w.u8(styleNumber(MESSAGE_STYLE, f.style, 'message')).str(f.text, 'message text'); break;
    case 'prompt': w.u8(styleNumber(PROMPT_STYLE, f.style, 'prompt')).str(f.text, 'prompt text'); break;
    case 'putenv': w.str(checkPutenvEntry(f.entry), 'put-env entry'); break;
    case 'syslog': w.u8(checkPriority(f.priority)).str(f.text, 'syslog text'); break;
    case 'session': w.str(f.id, 'session id'); break;
    case 'result': w.u32(checkCode(f.code, 'result code')); break;
    default: fail('type', `unknown frame type "${(f as { type: unknown }).type}"`);
  }
  return w.frame(FRAME_TYPES[f.type]);
}

// ---------------------------------------------------------------- decoding

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Reader {
  private at = 0;
  constructor(private readonly body: Buffer) {}
  private need(n: number, what: string): void {
    if (this.body.length - this.at < n) fail('truncated', `${what} runs past the end of the frame`);
  }
  u8(what: string): number { this.need(1, what); return this.body[this.at++]!; }
  u32(what: string): number { this.need(4, what); const n = this.body.readUInt32BE(this.at); this.at += 4; return n; }
  str(what: string): string {
    const n = this.u32(`${what}'s length`);
    if (n > MAX_STRING) fail('string', `${what} is ${n} bytes, over the ${MAX_STRING}-byte limit`);
    this.need(n, what);
    const bytes = this.body.subarray(this.at, this.at + n);
    this.at += n;
    if (bytes.includes(0)) fail('string', `${what} holds a NUL byte`);
    try { return utf8.decode(bytes); } catch { return fail('string', `${what} is not UTF-8`); }
  }
  count(what: string): number {
    const n = this.u32(`${what}'s count`);
    if (n > MAX_STRINGS) fail('count', `${what} has ${n} entries, over the limit of ${MAX_STRINGS}`);
    return n;
  }
  strs(what: string): string[] {
    const n = this.count(what);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.str(`${what}[${i}]`));
    return out;
  }
  end(): void {
    if (this.at !== this.body.length) fail('trailing', `${this.body.length - this.at} bytes left over after the last field`);
  }
}

function decodeHook(r: Reader): HookFrame {
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) fail('version', `protocol version ${version} is not ${PROTOCOL_VERSION}`);
  const hookNumber = r.u8('hook');
  const hook = HOOK_BY_NUMBER.get(hookNumber) ?? fail('value', `hook ${hookNumber} is not 1 or 2`);
  const flags = r.u32('flags');
  const pid = r.u32('pid');
  const stack = checkStack(r.str('stack'));
  const sessionId = r.str('session id');
  const argv = r.strs('argv');
  const itemCount = r.count('items');
  const items: ProtocolItems = {};
  for (let i = 0; i < itemCount; i++) {
    const number = r.u8('item');
    const name = ITEM_BY_NUMBER.get(number) ?? fail('value', `item ${number} is not sent by the module`);
    if (items[name] !== undefined) fail('value', `item ${name} appears twice`);
    items[name] = r.str(`item ${name}`);
  }
  const env = r.strs('env').map(checkEnvEntry);
  return { type: 'hook', hook, flags, pid, stack, sessionId, argv, items, env };
}

function decodeBody(type: FrameTypeName, r: Reader): Frame {
  switch (type) {
    case 'hook': return decodeHook(r);
    case 'answer': {
      const code = r.u32('answer code');
      const text = r.str('answer text');
      checkAnswer(code, text);
      return { type, code, text };
    }
    case 'message': {
      const n = r.u8('message style');
      const style = MESSAGE_BY_NUMBER.get(n) ?? fail('value', `message style ${n} is not 3 or 4`);
      return { type, style, text: r.str('message text') };
    }
    case 'prompt': {
      const n = r.u8('prompt style');
      const style = PROMPT_BY_NUMBER.get(n) ?? fail('value', `prompt style ${n} is not 1 or 2`);
      return { type, style, text: r.str('prompt text') };
    }
    case 'putenv': return { type, entry: checkPutenvEntry(r.str('put-env entry')) };
    case 'syslog': {
      const priority = checkPriority(r.u8('syslog priority'));
      return { type, priority, text: r.str('syslog text') };
    }
    case 'session': return { type, id: r.str('session id') };
    case 'result': return { type, code: checkCode(r.u32('result code'), 'result code') };
  }
}

/** Reads `L` from a frame's first 4 bytes and checks it; throws ProtocolError when out of range. */
export function frameLength(head: Buffer): number {
  const n = head.readUInt32BE(0);
  if (n < 1 || n > MAX_FRAME) fail('length', `frame length ${n} is not 1..${MAX_FRAME}`);
  return n;
}

/** Decodes one frame's type byte and body (the `L` bytes after the prefix), sent in `direction`. */
export function decodeFrameBody(direction: Direction, payload: Buffer): Frame {
  if (payload.length < 1 || payload.length > MAX_FRAME) fail('length', `frame length ${payload.length} is not 1..${MAX_FRAME}`);
  const type = TYPE_BY_NUMBER.get(payload[0]!) ?? fail('type', `frame type 0x${payload[0]!.toString(16)} is unknown`);
  if (DIRECTION[type] !== direction) fail('direction', `a ${type} frame is not sent ${direction}`);
  const r = new Reader(payload.subarray(1));
  const frame = decodeBody(type, r);
  r.end();
  return frame;
}

/** Decodes exactly one whole frame, prefix included; bytes after it are malformed. */
export function decodeFrame(direction: 'to-daemon', bytes: Buffer): ToDaemon;
export function decodeFrame(direction: 'to-module', bytes: Buffer): ToModule;
export function decodeFrame(direction: Direction, bytes: Buffer): Frame;
export function decodeFrame(direction: Direction, bytes: Buffer): Frame {
  if (bytes.length < 4) fail('truncated', 'the frame has no complete length prefix');
  const n = frameLength(bytes);
  if (bytes.length < 4 + n) fail('truncated', `the frame ends ${4 + n - bytes.length} bytes short`);
  if (bytes.length > 4 + n) fail('trailing', `${bytes.length - 4 - n} bytes follow the frame`);
  return decodeFrameBody(direction, bytes.subarray(4));
}

/**
 * Cuts a byte stream into frames as it arrives. A bad length is refused as
 * soon as its 4 bytes are in, so a peer cannot make the reader buffer more
 * than one frame's limit. After a throw the reader is broken: close the
 * connection.
 */
export class FrameReader<D extends Direction = Direction> {
  private buffered: Buffer = Buffer.alloc(0);
  private broken = false;
  constructor(readonly direction: D) {}

  /** Adds bytes; returns the frames they complete, in order. */
  push(chunk: Buffer): (D extends 'to-daemon' ? ToDaemon : D extends 'to-module' ? ToModule : Frame)[] {
    if (this.broken) fail('broken', 'the stream already held a malformed frame');
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const out: Frame[] = [];
    try {
      while (this.buffered.length >= 4) {
        const n = frameLength(this.buffered);
        if (this.buffered.length < 4 + n) break;
        out.push(decodeFrameBody(this.direction, this.buffered.subarray(4, 4 + n)));
        this.buffered = this.buffered.subarray(4 + n);
      }
    } catch (e) {
      this.broken = true;
      throw e;
    }
    return out as never;
  }

  /** Bytes received that do not yet make a whole frame (a stream ending here was cut short). */
  get pending(): number { return this.buffered.length; }
}
