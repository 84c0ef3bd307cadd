/**
 * One run of a stack's session hooks for one user: what `pamwasm run`
 * prints, and what the differential tests compare with libpam.
 */
import { PAM } from '../codes/index.js';
import { newHandleState, type StackConversation, type ConvMessage, type LogRecord, type WitItem } from '../runtime/index.js';
import { parseStackFile, type Diagnostic } from './parse.js';
import { StackSession, type SessionOptions, type TraceEntry } from './session.js';

export interface RunOptions extends Omit<SessionOptions, 'log' | 'conversation'> {
  stackFile: string;
  items: Partial<Record<WitItem, string>>;
  env?: Record<string, string>;
  silent?: boolean;
  phase?: 'open' | 'close' | 'both';
  conversation?: StackConversation;
}

export interface RunResult {
  open?: { code: number; name: string };
  close?: { code: number; name: string };
  messages: ConvMessage[];
  /** The PAM environment after the run. */
  env: Record<string, string>;
  trace: TraceEntry[];
  syslog: LogRecord[];
  diagnostics: Diagnostic[];
  /** True when every hook run returned PAM_SUCCESS. */
  ok: boolean;
}

export async function runStack(options: RunOptions): Promise<RunResult> {
  const stack = parseStackFile(options.stackFile, { strictPermissions: options.strictPermissions, engine: options.engine });
  const handle = newHandleState(options.items, options.env);
  const syslog: LogRecord[] = [];
  const session = await StackSession.create(stack, handle, { ...options, log: (r) => syslog.push(r) });
  const flags = { silent: Boolean(options.silent) };
  const phase = options.phase ?? 'both';
  const result: RunResult = {
    messages: session.messages,
    env: {},
    trace: [],
    syslog,
    diagnostics: [...stack.diagnostics, ...session.diagnostics],
    ok: true,
  };
  await runHooks(session, flags, phase, result);
  result.env = Object.fromEntries(handle.env);
  session.end();
  return result;
}

/** What running a session's hooks fills in: each hook's code, the trace, and whether both succeeded. */
export interface HookOutcomes {
  open?: { code: number; name: string };
  close?: { code: number; name: string };
  trace: TraceEntry[];
  ok: boolean;
}

/** Runs open, close or both (as `phase` says) on `session`, recording each into `into`. */
export async function runHooks(session: StackSession, flags: { silent: boolean }, phase: 'open' | 'close' | 'both', into: HookOutcomes): Promise<void> {
  for (const hook of ['open', 'close'] as const) {
    if (phase !== 'both' && phase !== hook) continue;
    const r = await (hook === 'open' ? session.open(flags) : session.close(flags));
    into[hook] = { code: r.code, name: r.name };
    into.trace.push(...r.trace);
    if (r.code !== PAM.SUCCESS.number) into.ok = false;
  }
}
