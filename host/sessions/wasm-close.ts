/**
 * The WASM half of closing a recorded session in another process: the
 * stack's close runs on fresh instances that get back the module data and
 * the frozen chain saved at open, with the modules pinned to the hashes they
 * had then. Without a snapshot (no recorded open) the close runs on fresh
 * instances with no data, as libpam closes a stack whose open never ran in
 * this handle: each line's own close code decides (pam_dispatch.c falls back
 * to the call's code when the chain holds no open code).
 *
 * Kept apart from close.ts, which adds the system stack's close, so that
 * `pamwasm exec` (where libpam itself is the caller) loads no libpam bridge.
 */
import { namedCode, PAM } from '../codes/index.js';
import { newHandleState, type ConvMessage, type LogRecord, type WitItem } from '../runtime/index.js';
import { parseStackFile, StackSession, type SessionOptions, type SessionSnapshot, type Stack, type TraceEntry } from '../stack/index.js';
import type { SessionRecord } from './registry.js';

export interface WasmCloseInput {
  /** The session's id in the registry, for log records; absent when there is no record. */
  id?: string;
  /** The stack file, and its sha256 at open (when known). */
  stack: string;
  stackSha256?: string;
  /** The stack file already parsed, when the caller parsed it (else it is parsed here). */
  parsed?: Stack;
  moduleDir?: string | null;
  /** Module data and frozen chain saved at open; null: close on fresh instances. */
  snapshot: SessionSnapshot | null;
  items: Partial<Record<WitItem, string>>;
  /** The PAM environment the close starts from. */
  env: Record<string, string>;
}

export interface WasmCloseOptions extends Pick<SessionOptions, 'sandbox' | 'strictPermissions' | 'cache' | 'engine'> {
  silent?: boolean;
  log?: (r: LogRecord) => void;
  /** Each info or error message, as the module shows it. */
  onMessage?: (m: ConvMessage) => void;
}

export interface WasmClose {
  wasm: { code: number; name: string };
  trace: TraceEntry[];
  messages: ConvMessage[];
  /** The PAM environment after the close. */
  env: Record<string, string>;
  /** Why the close could not run as recorded, if it could not. */
  problem?: string;
}

/** A record's items as the WASM modules see them. */
export const recordItems = (r: Pick<SessionRecord, 'service' | 'user' | 'tty' | 'rhost' | 'ruser'>): Partial<Record<WitItem, string>> =>
  Object.fromEntries(
    ([['service', r.service], ['user', r.user], ['tty', r.tty], ['rhost', r.rhost], ['ruser', r.ruser]] as const).filter(([, v]) => v != null),
  ) as Partial<Record<WitItem, string>>;


/** Runs the WASM stack's close; never throws for a stack or module problem (PAM_ABORT and `problem`). */
export async function closeWasmStack(r: WasmCloseInput, o: WasmCloseOptions): Promise<WasmClose> {
  const messages: ConvMessage[] = [];
  const handle = newHandleState(r.items, r.env);
  let trace: TraceEntry[] = [];
  let wasm = namedCode(PAM.ABORT.number);
  let problem: string | undefined;
  try {
    // The bytes compared are those parsed, read through root's checked open (parse.ts).
    const stack = r.parsed ?? parseStackFile(r.stack, { strictPermissions: o.strictPermissions, engine: o.engine });
    if (r.stackSha256 && stack.sha256 !== r.stackSha256) {
      problem = `stack file ${r.stack} changed since the session opened; closing with it as it is now`;
    }
    const session = await StackSession.create(stack, handle, {
      moduleDir: r.moduleDir ?? undefined,
      sandbox: o.sandbox,
      strictPermissions: o.strictPermissions,
      cache: o.cache,
      engine: o.engine,
      pins: r.snapshot?.modules,
      log: o.log,
      ...(r.id ? { sessionId: r.id } : {}),
      conversation: {
        info: (text) => void o.onMessage?.({ style: 'info', text }),
        error: (text) => void o.onMessage?.({ style: 'error', text }),
      },
    });
    if (r.snapshot) session.restore(r.snapshot);
    const closed = await session.close({ silent: o.silent });
    session.end();
    wasm = namedCode(closed.code);
    trace = closed.trace;
    messages.push(...session.messages);
  } catch (e) {
    // Whatever stops the WASM close (stack gone or changed shape), the caller
    // still records the session closed: a close that can never succeed must not run again.
    problem = `${problem ? `${problem}; ` : ''}${(e as Error).message}`;
  }
  return { wasm, trace, messages, env: Object.fromEntries(handle.env), ...(problem ? { problem } : {}) };
}
