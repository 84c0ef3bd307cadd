/**
 * A stack bound to one session: one module instance per line, made on the
 * line's first call and kept until the session ends, so that open-session and
 * close-session of a session run on the same instances (module memory and
 * pam_set_data pointers survive from open to close, as in libpam's handle).
 * A StackSession is one session's store (wasmtime's Store): its instances,
 * their fuel clocks and its module data; what sessions share (loaded modules,
 * the memory pool, the park list) is its engine's, through the PreparedStack
 * it was made from (prepared.ts).
 */
import { isAbsolute, join } from 'node:path';
import { codeByNumber, codeByStatus, namedCode, PAM, type WitStatus } from '../codes/index.js';
import { UsageError } from '../errors/index.js';
import { newEngineState, type EngineState } from '../engine/state.js';
import { missingHooksOfFile } from '../loader/core-names.js';
import type { LoadOptions } from '../loader/index.js';
import {
  hostImports, noteDroppedSyslog, resetCallCounters,
  type StackConversation, type ConvMessage, type HandleState, type ImportLimits, type LogRecord,
} from '../runtime/index.js';
import { packageRoot } from '../wit/index.js';
import { faultOf, type Fault, type InstanceMeter, type OnOutput } from '../sandbox/index.js';
import type { SandboxDefaults } from './line-options.js';
import { actionName } from './actions.js';
import type { ParkRegistry } from './park.js';
import { PreparedStack, whatIfOnly, type Line } from './prepared.js';
import { dispatch, newDispatchState, type DispatchLine, type DispatchState, type Hook, type Step } from './dispatch.js';
import type { Diagnostic, Handler, Stack } from './parse.js';

/** The bundled module directory (`npm run build:guests` fills it). */
export const BUNDLED_MODULE_DIR = join(packageRoot(), 'guest-modules', 'dist');

export interface TraceEntry {
  hook: Hook;
  file: string;
  line: number;
  module: string;
  control: string;
  /** What the line returned. */
  code: number;
  name: string;
  /** The action taken, e.g. `ok`, `bad`, `jump 2`. */
  action: string;
  impression: 'undef' | 'positive' | 'negative';
  /** The stack's status after this line. */
  status: number;
  statusName: string;
  /** Why the line failed without its module deciding (fault, load error). */
  reason?: string;
  /** The guest fault that decided the line's code, by kind (host/sandbox/faults.ts). */
  fault?: Fault;
  /** Set when a what-if chose the code and the module did not run (SessionOptions.whatIf). */
  whatIf?: true;
}

/**
 * A "what if" for one stack line: the code the line returns at each hook
 * instead of running its module (undefined: the module runs). The
 * dispatcher treats it as the module's own answer, so every rule (frozen
 * chain, jumps, substacks) applies to it as to a real one.
 */
export interface WhatIf {
  open?: number;
  close?: number;
}

/** A session's state between open and close, as JSON-safe data. */
export interface SessionSnapshot {
  /** Code each line returned at open (-1: not run). */
  cached: number[];
  /** Each line's module data, base64 values. */
  data: Record<string, string>[];
  /** Each line's module sha256 at open (null: not loaded). */
  modules: (string | null)[];
}

export interface HookResult {
  code: number;
  name: string;
  trace: TraceEntry[];
}

export interface SessionOptions {
  /** Directory for relative module paths; default the bundled one. */
  moduleDir?: string;
  conversation?: StackConversation;
  /** Receives module syslog lines, each with its stack line, service, user and `sessionId`. Default: dropped. */
  log?: (record: LogRecord) => void;
  /** The session's id (the registry's), put in each log record. */
  sessionId?: string;
  limits?: Partial<ImportLimits>;
  /** Host-wide sandbox defaults; a stack line's module options override them. */
  sandbox?: Partial<SandboxDefaults>;
  /** Refuse stack files and modules others than root could change. Default: when running as root. */
  strictPermissions?: boolean;
  /** Receives what granted modules write to stdout/stderr (default: discarded). */
  onOutput?: OnOutput;
  /**
   * Per line, the sha256 its module must have (a session's modules at open,
   * when closing it in another process). Overrides the line's own pin.
   */
  pins?: readonly (string | null)[];
  /** An on-disk cache of prepared components (host/loader/cache.ts). Default: none. */
  cache?: LoadOptions['cache'];
  /**
   * What-if results by handler index (stack.handlers order). A line with a
   * what-if for both hooks is not loaded at all, so a native pam.d line
   * (`pam_unix.so`) can be walked this way; a code outside the PAM table
   * fails closed as any module's would.
   */
  whatIf?: ReadonlyMap<number, WhatIf>;
  /** Called with each trace entry (and its handler's index) as its line finishes, before the next line runs. */
  onTrace?: (entry: TraceEntry, index: number) => void;
  /**
   * The engine whose caches, memory pool and park registry the session uses
   * (host/engine). Default: an engine state of the session's own.
   */
  engine?: EngineState;
}

const IMPRESSION = { [-1]: 'negative', 0: 'undef', 1: 'positive' } as const;

export function resolveModulePath(token: string, moduleDir = BUNDLED_MODULE_DIR): string {
  return isAbsolute(token) ? token : join(moduleDir, token);
}

export class StackSession {
  readonly stack: Stack;
  readonly handle: HandleState;
  /** Every message shown to the user, in order. */
  readonly messages: ConvMessage[];
  /** Problems found while loading the stack's modules. */
  readonly diagnostics: Diagnostic[];
  private readonly lines: Line[];
  /** What the dispatcher walks: each line's handler, as `faulty` when its module did not load. */
  private readonly dispatchLines: DispatchLine[];
  private readonly state: DispatchState;
  /** The line whose hook is running (a host callback may end the session meanwhile). */
  private running?: Line;
  private onTrace?: (entry: TraceEntry, index: number) => void;
  /** The engine's registry of idle parkable lines. */
  private readonly idle: ParkRegistry;

  private constructor(stack: Stack, handle: HandleState, lines: Line[], messages: ConvMessage[], diagnostics: Diagnostic[], idle: ParkRegistry) {
    this.idle = idle;
    this.stack = stack;
    this.messages = messages;
    this.diagnostics = diagnostics;
    this.handle = handle;
    this.lines = lines;
    this.dispatchLines = lines.map((l) => (l.loaded || l.handler.kind !== 'module' || whatIfOnly(l.whatIf) ? l.handler : { ...l.handler, kind: 'faulty' }));
    this.state = newDispatchState(lines.length);
  }

  /**
   * Loads every module of `stack` (a module that fails to load dispatches as
   * PAM_MODULE_UNKNOWN), through the engine's PreparedStack for it.
   */
  static async create(stack: Stack, handle: HandleState, options: SessionOptions = {}): Promise<StackSession> {
    const engine = options.engine ?? newEngineState();
    const prepared = await PreparedStack.prepare(stack, { ...options, engine });
    return StackSession.fromPrepared(prepared, handle, options);
  }

  /** A session of a prepared stack (PreparedStack.session). */
  static async fromPrepared(prepared: PreparedStack, handle: HandleState, options: SessionOptions = {}): Promise<StackSession> {
    const messages: ConvMessage[] = [];
    const diagnostics: Diagnostic[] = [];
    const lines = await prepared.bind(handle, options, messages, diagnostics);
    const session = new StackSession(prepared.stack, handle, lines, messages, diagnostics, prepared.engine.park);
    session.onTrace = options.onTrace;
    return session;
  }

  /** pam_open_session over the stack. */
  open(flags: { silent?: boolean } = {}): Promise<HookResult> {
    return this.run('open', flags);
  }

  /** pam_close_session over the stack, on the instances open-session used. */
  close(flags: { silent?: boolean } = {}): Promise<HookResult> {
    return this.run('close', flags);
  }

  /**
   * What a later close needs, in another process if need be: each line's
   * module data and the codes open-session returned (the frozen chain).
   */
  snapshot(): SessionSnapshot {
    return {
      cached: [...this.state.cached],
      data: this.lines.map((l) => Object.fromEntries([...l.ctx.data].map(([k, v]) => [k, Buffer.from(v).toString('base64')]))),
      modules: this.lines.map((l) => l.loaded?.sha256 ?? null),
    };
  }

  /** Takes back a snapshot made at open (same stack), before close runs. */
  restore(snapshot: SessionSnapshot): void {
    if (snapshot.cached.length !== this.lines.length) {
      throw new UsageError(`the saved session has ${snapshot.cached.length} stack lines but the stack now has ${this.lines.length}: it changed since the session opened.`);
    }
    this.state.cached.splice(0, this.state.cached.length, ...snapshot.cached);
    this.lines.forEach((l, i) => {
      l.ctx.data.clear();
      for (const [k, v] of Object.entries(snapshot.data[i] ?? {})) l.ctx.data.set(k, Buffer.from(v, 'base64'));
    });
  }

  private async run(hook: Hook, flags: { silent?: boolean }): Promise<HookResult> {
    const trace: TraceEntry[] = [];
    if (this.stack.fatal) {
      return { ...namedCode(PAM.ABORT.number), trace };
    }
    const witFlags = { silent: Boolean(flags.silent) };
    const reasons = new Map<number, { reason: string; fault?: Fault }>();
    const call = (i: number) => this.call(i, hook, witFlags, reasons);
    const onStep = (s: Step) => {
      const entry = this.traceEntry(hook, s, reasons.get(s.index));
      trace.push(entry);
      this.onTrace?.(entry, s.index);
    };
    const code = await dispatch(this.dispatchLines, this.state, hook, call, onStep);
    return { ...namedCode(code), trace };
  }

  /**
   * Parks this session's idle lines whose instance holds at least
   * `minBytes` of linear memory, now rather than under memory pressure
   * (`Engine.parkIdleLines`): for a host that holds many sessions between their open
   * and close, such as `pamwasm daemon`. Each comes back, made anew with its
   * memory and globals, at its next call. Returns how many were parked.
   *
   * @example
   *   await session.open();
   *   session.park(1 << 20);   // a JS module's instance: megabytes
   */
  park(minBytes = 0): number {
    let parked = 0;
    for (const line of this.lines) {
      if (!line.parkable || !line.instance || !line.meter || line === this.running || line.meter.memoryBytes < minBytes) continue;
      this.idle.park(line);
      parked++;
    }
    return parked;
  }

  /**
   * Ends the session (pam_end): drops every instance, gives their memories
   * back to the sandbox's pool, and closes what granted modules left open.
   */
  end(): void {
    for (const line of this.lines) {
      this.idle.markBusy(line);
      line.instance = undefined;
      line.parked = undefined;
      // Ended from a host callback while this line's hook runs: its memory is
      // still in use, so it is left to the collector rather than pooled.
      if (line === this.running) line.meter?.forget();
      else line.meter?.release();
      line.wasi?.close();
    }
  }

  private call(i: number, hook: Hook, flags: { silent: boolean }, reasons: Map<number, { reason: string; fault?: Fault }>): number {
    const line = this.lines[i];
    const chosen = line.whatIf?.[hook];
    if (chosen !== undefined) return chosen;
    if (line.fault) {
      const reason = `faulted earlier: ${line.fault.message}`;
      reasons.set(i, { reason, fault: { kind: line.fault.kind, message: reason } });
      return line.faultCode;
    }
    this.idle.markBusy(line);
    try {
      if (!line.instance) {
        const meter = line.meter;
        meter?.arm(line.timeoutMs);
        if (line.parked) {
          meter!.wake(line.parked);
          this.idle.counts.woken++;
        }
        try {
          const loaded = line.loaded!;
          const host = hostImports(line.ctx, loaded.imports);
          line.instance = loaded.instantiate(line.wasi ? { ...line.wasi.imports, ...host } : host, meter?.instantiateCore);
          failed(meter);
        } finally {
          line.parked = undefined;
          meter?.woken();
        }
        line.parkable = !line.wasi && meter !== undefined && meter.parkable;
      }
      resetCallCounters(line.ctx);
      line.meter?.arm(line.timeoutMs);
      const argv = line.handler.args;
      this.running = line;
      let status: WitStatus;
      try {
        const instance = line.instance;
        const call = () => (hook === 'open' ? instance.openSession(flags, argv) : instance.closeSession(flags, argv));
        status = line.meter ? line.meter.hookCall(call) : call();
        failed(line.meter);
      } finally {
        this.running = undefined;
      }
      // Unless the session ended during the call.
      if (line.parkable && line.instance) this.idle.markIdle(this.lines, i);
      noteDroppedSyslog(line.ctx);
      const code = codeByStatus(status).number;
      // The SDK glue's answer for a hook the module lacks: say which (looked
      // up on this code only, once per line).
      if (code === PAM.MODULE_UNKNOWN.number && line.path) {
        line.missingHooks ??= missingHooksOfFile(line.path);
        if (line.missingHooks) reasons.set(i, { reason: `${line.handler.module}: ${line.missingHooks}` });
      }
      return code;
    } catch (e) {
      noteDroppedSyslog(line.ctx);
      // A trap, or anything else thrown from the guest, fails closed; the
      // instance may be corrupt, so it is dropped for the rest of the session.
      const fault = faultOf(line.meter ? line.meter.explain(e) : e);
      // A JS module's own words (an exception's message) before the engine's `unreachable`.
      const said = describeFault(fault);
      const why = `${line.handler.module} ${hook}-session ${line.ctx.calls.fault ? `${line.ctx.calls.fault} (${said})` : said}`;
      line.fault = { kind: fault.kind, message: why };
      line.instance = undefined;
      line.meter?.release();
      line.wasi?.close();
      reasons.set(i, { reason: why, fault: line.fault });
      line.ctx.log({ priority: 'err', module: line.ctx.module, message: why });
      return line.faultCode;
    }
  }

  private traceEntry(hook: Hook, s: Step, why?: { reason: string; fault?: Fault }): TraceEntry {
    const line = this.lines[s.index];
    const h = line.handler;
    const entry: TraceEntry = {
      hook,
      file: h.file,
      line: h.line,
      module: h.module ?? '<none>',
      control: h.control,
      code: s.code,
      name: codeByNumber(s.code).name,
      action: actionName(s.action),
      impression: IMPRESSION[s.impression as -1 | 0 | 1],
      status: s.status,
      statusName: codeByNumber(s.status).name,
    };
    // Set one by one rather than spread: this runs for every line of every hook.
    const reason = (why?.reason ?? line.loadError) || (h.kind === 'must-fail' ? 'malformed line' : undefined);
    if (reason) entry.reason = reason;
    if (why?.fault) entry.fault = why.fault;
    if (line.whatIf?.[hook] !== undefined && h.kind === 'module') entry.whatIf = true;
    return entry;
  }
}

/**
 * Throws the fault a host call recorded on `meter` during the call that just
 * returned: a guest that caught it and went on still fails.
 */
function failed(meter: InstanceMeter | undefined): void {
  if (meter?.failure !== undefined) throw meter.failure;
}

/** One phrase for the log: what went wrong in the guest. */
function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'timeout': return `timed out: ${f.message}`;
    case 'stack-overflow': case 'trap': return f.message;
    case 'limit': return `passed a sandbox limit: ${f.message}`;
    case 'out-of-memory': return `ran out of memory: ${f.message}`;
    default: return `faulted: ${f.message}`;
  }
}
