/**
 * The messages between the host and a libpam helper (process or thread).
 *
 * The host sends one request at a time and waits for its result; while a
 * request runs, the helper may send conversation messages, each answered by
 * the host before the helper goes on. Over a pipe the messages are JSON lines;
 * over a MessagePort they are posted as they are.
 */
import type { ConvMessage } from '../codes/index.js';

/** The libpam calls that walk a module stack (pam_dispatch.c's choices). */
export const DISPATCH_CALLS = {
  authenticate: 'pam_authenticate',
  acct_mgmt: 'pam_acct_mgmt',
  setcred: 'pam_setcred',
  chauthtok: 'pam_chauthtok',
  open_session: 'pam_open_session',
  close_session: 'pam_close_session',
} as const;

export type DispatchFn = keyof typeof DISPATCH_CALLS;

export type Request =
  | { op: 'start'; service: string; user: string | null; confdir: string | null; items: [number, string | null][] }
  | { op: 'set_item'; hid: number; item: number; value: string | null }
  | { op: 'get_item'; hid: number; item: number }
  | { op: 'dispatch'; hid: number; fn: DispatchFn; flags: number }
  | { op: 'getenv'; hid: number; name: string }
  | { op: 'putenv'; hid: number; nameValue: string }
  | { op: 'getenvlist'; hid: number }
  | { op: 'end'; hid: number; status: number | null; dataSilent: boolean }
  | { op: 'strerror'; code: number }
  | { op: 'stats' };

/** The libpam function each request stands for, for error messages. */
export function callName(req: Request): string {
  switch (req.op) {
    case 'dispatch': return DISPATCH_CALLS[req.fn];
    case 'start': return req.confdir === null ? 'pam_start' : 'pam_start_confdir';
    case 'stats': return 'stats';
    default: return `pam_${req.op}`;
  }
}

/** A libpam return code with pam_strerror's text for it. */
export interface CodeReply { code: number; message: string }

export type { ConvMessage };

/** Answers in message order (null for info/error messages), or null for PAM_CONV_ERR. */
export type ConvAnswers = (string | null)[] | null;

export interface HelperInfo {
  pid: number;
  libpam: string;
  hasStartConfdir: boolean;
}

export interface HelperStats {
  /** The helper's resident set size (the host's, for a thread), bytes. */
  rss: number;
  /** The helper's V8 heap in use, bytes. */
  heapUsed: number;
  /** Handles started and not yet ended. */
  handles: number;
  /** Conversation callbacks registered with koffi (one per handle). */
  callbacks: number;
}

/** A host error raised inside the helper, rebuilt on the host side by its code. */
export interface WireError { code: string; message: string }

export type ToHelper =
  | { t: 'req'; id: number; req: Request }
  | { t: 'conv'; answers: ConvAnswers };

export type FromHelper =
  | { t: 'hello'; info?: HelperInfo; error?: WireError }
  | { t: 'res'; id: number; value?: unknown; error?: WireError }
  | { t: 'conv'; messages: ConvMessage[] };
