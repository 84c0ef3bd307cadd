/**
 * The stack runs of one worker: open and close hooks, one at a time, with
 * each open session's instances kept until its close, so module memory
 * lives from open to close as in a libpam handle. Before each run it
 * writes its hard deadline where the watchdog reads it; a worker past it
 * is terminated (pool.ts), and its sessions close later from the registry.
 */
import { PAM } from '../codes/index.js';
import { newHandleState, type StackConversation, type HandleState } from '../runtime/index.js';
import { closeWasmStack } from '../sessions/wasm-close.js';
import { createEngine, type Engine } from '../engine/index.js';
import { SANDBOX_DEFAULTS, StackSession, type SessionSnapshot, type Stack, type TraceEntry } from '../stack/index.js';
import { PRIORITY, type WorkerInit } from './jobs.js';
import type { ProtocolItems } from './protocol.js';
import type { Reply } from './conn.js';

/** Instances holding at least this much linear memory are parked between open and close. */
const PARK_FROM_BYTES = 1 << 20;

export interface RunRequest {
  silent: boolean;
  items: ProtocolItems;
  env: Record<string, string>;
}

/** A close on fresh instances from what the registry recorded at open. */
export interface RecordedSession {
  stack: string;
  stackSha256: string;
  moduleDir: string | null;
  snapshot: SessionSnapshot | null;
}

export interface Done {
  code: number;
  /** Entries for pam_putenv: what the hook changed in the PAM environment. */
  puts: string[];
  /** After an open: the PAM environment and what a later close needs. */
  env?: Record<string, string>;
  snapshot?: SessionSnapshot;
  /** After an open: the sha256 of the stack file as it was read. */
  stackSha256?: string;
  /** Lines that failed without their module deciding (fault, load error), as `file:line module: why`. */
  faults: string[];
  /** Why the hook could not run as asked (stack missing, unsafe, changed). */
  problem?: string;
}

/** pam_putenv entries that turn `before` into `after`. */
function envChanges(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  const puts: string[] = [];
  for (const [k, v] of after) if (before.get(k) !== v) puts.push(`${k}=${v}`);
  for (const k of before.keys()) if (!after.has(k)) puts.push(k);
  return puts;
}

const faultsOf = (trace: TraceEntry[]) => trace.filter((t) => t.reason).map((t) => `${t.file}:${t.line} ${t.module}: ${t.reason}`);

/** Takes the application's items and environment as they are at this hook. */
function refresh(handle: HandleState, r: RunRequest): void {
  Object.assign(handle.items, r.items);
  handle.env.clear();
  for (const [k, v] of Object.entries(r.env)) handle.env.set(k, v);
}

export class StackRuns {
  private readonly sessions = new Map<string, StackSession>();
  /** Where the running hook's messages, prompts and syslog lines go. */
  private reply: Reply | undefined;
  private readonly conversation: StackConversation;
  private readonly moduleLog: (r: { priority: string; module: string; message: string }) => void;
  /** This worker's engine: its sessions share its compiled modules, kept parses and memory pool (an engine cannot cross threads). */
  private readonly engine: Engine;

  constructor(private readonly init: WorkerInit, private readonly deadline: Float64Array) {
    this.engine = createEngine(init.engine);
    // A session's instances keep the conversation and log they were made
    // with at open, so these go to whichever hook runs (one at a time).
    this.conversation = {
      info: (text) => this.reply?.send({ type: 'message', style: 'info', text }),
      error: (text) => this.reply?.send({ type: 'message', style: 'error', text }),
      prompt: (style, text) => this.ask(style, text),
    };
    this.moduleLog = (r) => this.reply?.send({ type: 'syslog', priority: PRIORITY[r.priority] ?? PRIORITY.notice, text: `${r.module}: ${r.message.trimEnd()}` });
  }

  holds(id: string): boolean {
    return this.sessions.has(id);
  }

  /** Runs `fn` with its replies going to `reply`; a stack that cannot run fails closed. */
  async run(reply: Reply, fn: () => Promise<Done>): Promise<Done> {
    this.reply = reply;
    try {
      return await fn();
    } catch (e) {
      // A stack that cannot be read or is unsafe, a module refused: the hook fails closed.
      return { code: PAM.SESSION_ERR.number, puts: [], faults: [], problem: (e as Error).message };
    } finally {
      this.deadline[0] = 0;
      this.reply = undefined;
    }
  }

  async open(id: string, stackPath: string, r: RunRequest): Promise<Done> {
    this.deadline[0] = Date.now() + this.init.loadMs;
    const stack = this.engine.parseStackFile(stackPath, { strictPermissions: true });
    const handle = newHandleState(r.items, r.env);
    const session = await StackSession.create(stack, handle, {
      moduleDir: this.init.moduleDir, sandbox: this.init.sandbox, strictPermissions: true, log: this.moduleLog, conversation: this.conversation, engine: this.engine,
    });
    this.deadline[0] = Date.now() + this.hardLimitMs(stack);
    const before = new Map(handle.env);
    const result = await session.open({ silent: r.silent });
    this.deadline[0] = 0;
    const ok = result.code === PAM.SUCCESS.number;
    if (ok) {
      this.sessions.set(id, session);
      // An open session is idle until its close, maybe for days: instances
      // with large memories (a JS module's engine, megabytes) are parked,
      // keeping only the pages their open changed; small ones (C modules,
      // kilobytes) stay live, as making them again would cost more than they hold.
      session.park(PARK_FROM_BYTES);
    } else session.end();
    const diagnostics = [...stack.diagnostics, ...session.diagnostics].map((d) => `${d.file}:${d.line}: ${d.message}`);
    return {
      code: result.code, puts: envChanges(before, handle.env), env: Object.fromEntries(handle.env),
      snapshot: session.snapshot(), stackSha256: stack.sha256, faults: [...diagnostics, ...faultsOf(result.trace)],
    };
  }

  /** Ends a held session's instances without running its close (another closer has it). */
  drop(id: string): void {
    const session = this.sessions.get(id);
    this.sessions.delete(id);
    session?.end();
  }

  /** Closes a session on the instances this worker holds. */
  async close(id: string, r: RunRequest): Promise<Done> {
    const session = this.sessions.get(id);
    if (!session) return { code: PAM.SESSION_ERR.number, puts: [], faults: [], problem: `session ${id} is not held by this worker` };
    this.sessions.delete(id);
    refresh(session.handle, r);
    const before = new Map(session.handle.env);
    this.deadline[0] = Date.now() + this.hardLimitMs(session.stack);
    try {
      const result = await session.close({ silent: r.silent });
      return { code: result.code, puts: envChanges(before, session.handle.env), faults: faultsOf(result.trace) };
    } finally {
      session.end();
    }
  }

  /** Closes a session on fresh instances with its recorded data. */
  async closeRecord(record: RecordedSession, r: RunRequest): Promise<Done> {
    const before = new Map(Object.entries(r.env));
    this.deadline[0] = Date.now() + this.init.loadMs + this.init.marginMs;
    const w = await closeWasmStack(
      { ...record, moduleDir: record.moduleDir ?? this.init.moduleDir, items: r.items, env: r.env },
      { sandbox: this.init.sandbox, strictPermissions: true, engine: this.engine, silent: r.silent, log: this.moduleLog, onMessage: (m) => this.reply?.send({ type: 'message', style: m.style as 'info' | 'error', text: m.text }) },
    );
    return { code: w.wasm.code, puts: envChanges(before, new Map(Object.entries(w.env))), faults: faultsOf(w.trace), ...(w.problem ? { problem: w.problem } : {}) };
  }

  /** The hard deadline of one hook: every line's limit, twice (instantiation and call), plus the margin. */
  private hardLimitMs(stack: Stack): number {
    const fallback = this.init.sandbox?.timeoutMs ?? SANDBOX_DEFAULTS.timeoutMs;
    let total = this.init.marginMs;
    for (const h of stack.handlers) {
      if (h.kind !== 'module') continue;
      const limit = h.spec?.timeoutMs ?? fallback;
      total += 2 * (limit > 0 ? limit : this.init.unmeteredMs);
    }
    return total;
  }

  /** Asks the person on the hook's connection; the person's time is not the module's, so the watchdog waits too. */
  private ask(style: 'echo-on' | 'echo-off', text: string): string | undefined {
    if (!this.reply) return undefined;
    const saved = this.deadline[0];
    this.deadline[0] = Infinity;
    const started = Date.now();
    const a = this.reply.prompt(style, text);
    this.deadline[0] = saved + (Date.now() - started);
    return a.code === PAM.SUCCESS.number ? a.text : undefined;
  }
}
