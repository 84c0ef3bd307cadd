/**
 * A stack bound to one session: one module instance per line, made on the
 * line's first call and kept until the session ends, so that open-session and
 * close-session of a session run on the same instances (module memory and
 * pam_set_data pointers survive from open to close, as in libpam's handle).
 */
import { isAbsolute, join } from 'node:path';
import { codeByNumber, codeByStatus, namedCode, PAM, type WitStatus } from '../codes/index.js';
import { PamwasmError, UsageError } from '../errors/index.js';
import { missingHooksOfFile } from '../loader/core-names.js';
import { loadComponent, type LoadedComponent, type LoadOptions, type ModuleInstance } from '../loader/index.js';
import {
  hostImports, newLineContext, noteDroppedSyslog, resetCallCounters,
  type StackConversation, type ConvMessage, type HandleState, type ImportLimits, type LineContext, type LogRecord,
} from '../runtime/index.js';
import { packageRoot } from '../wit/index.js';
import { faultOf, type Fault } from '../sandbox/faults.js';
import { InstanceMeter, onMemoryPressure, type Parked } from '../sandbox/limits.js';
import { checkSandboxValues, type OnOutput, wasiImports } from '../sandbox/index.js';
import { lineLoadOptions, SANDBOX_DEFAULTS, type SandboxDefaults } from './line-options.js';
import { actionName } from './actions.js';
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
}

interface Line {
  handler: Handler;
  ctx: LineContext;
  timeoutMs: number;
  faultCode: number;
  meter?: InstanceMeter;
  wasi?: ReturnType<typeof wasiImports>;
  loaded?: LoadedComponent;
  loadError?: string;
  instance?: ModuleInstance;
  /** Whether the line's instance can be parked when idle (see `parkIdleLines`). */
  parkable?: boolean;
  /** The line's instance, set aside while idle; made again at its next call. */
  parked?: Parked;
  /** Set once the line faulted: its instance is gone for the rest of the session. */
  fault?: Fault;
  /** The module file, resolved. */
  path?: string;
  /** Hooks the module lacks, said once it returned PAM_MODULE_UNKNOWN ('' for none). */
  missingHooks?: string;
  whatIf?: WhatIf;
}

/**
 * Lines whose instance is live, idle and parkable, least recently used
 * first (a Set keeps insertion order; a call takes its line out and puts it
 * back at the end). Held weakly: a session its host drops without `end()`
 * is collected as before, and its entries with it.
 */
const idleLines = new Set<WeakRef<Line>>();
const idleRefs = new WeakMap<Line, WeakRef<Line>>();
const forgetIdle = new FinalizationRegistry<WeakRef<Line>>((ref) => idleLines.delete(ref));

function markIdle(line: Line): void {
  let ref = idleRefs.get(line);
  if (!ref) {
    ref = new WeakRef(line);
    idleRefs.set(line, ref);
    forgetIdle.register(line, ref);
  }
  idleLines.delete(ref);
  idleLines.add(ref);
}

function markBusy(line: Line): void {
  const ref = idleRefs.get(line);
  if (ref) idleLines.delete(ref);
}

/**
 * Parks up to `max` idle instances of open sessions, least recently used
 * first: each becomes a copy of the memory pages that hold something and of
 * its globals, its memory goes back to the sandbox's pool, and the next call
 * on its line makes it again as it was. pamwasm does this by itself when V8
 * cannot reserve another wasm memory (with the trap handler on, each takes
 * about 10 GiB of address space, so a process holds about 13,000); a host
 * may call it to lower what idle sessions hold. Only instances whose whole
 * changeable state is their memory and globals are parked (every C module
 * built with the SDK; not a module that changes tables, imports WASI, or runs
 * code as it is made). Returns how many were parked.
 */
export function parkIdleLines(max = Infinity): number {
  let parked = 0;
  for (const ref of idleLines) {
    if (parked >= max) break;
    idleLines.delete(ref);
    const line = ref.deref();
    if (!line?.instance || !line.meter) continue;
    line.parked = line.meter.park();
    line.instance = undefined;
    parked++;
  }
  parkCounts.parked += parked;
  return parked;
}

const parkCounts = { parked: 0, woken: 0 };

/** How many instances this process has parked and woken so far (for the bench and tests). */
export function parkStats(): { parked: number; woken: number } {
  return { ...parkCounts };
}

/**
 * Lines parked at once at the sandbox's memory limit: enough to refill the
 * pool for a while. When V8 itself refused a memory (a limit set too high
 * for this process's address space), many more: each refusal costs seconds.
 */
const PARK_BATCH = 64;
const PARK_BATCH_REFUSED = 2048;
onMemoryPressure((failed) => parkIdleLines(failed ? PARK_BATCH_REFUSED : PARK_BATCH));

/** A line that never runs its module: a what-if answers both hooks. */
const whatIfOnly = (l: Line) => l.whatIf?.open !== undefined && l.whatIf.close !== undefined;

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

  private constructor(stack: Stack, handle: HandleState, lines: Line[], messages: ConvMessage[], diagnostics: Diagnostic[]) {
    this.stack = stack;
    this.messages = messages;
    this.diagnostics = diagnostics;
    this.handle = handle;
    this.lines = lines;
    this.dispatchLines = lines.map((l) => (l.loaded || l.handler.kind !== 'module' || whatIfOnly(l) ? l.handler : { ...l.handler, kind: 'faulty' }));
    this.state = newDispatchState(lines.length);
  }

  /** Loads every module of `stack` (a module that fails to load dispatches as PAM_MODULE_UNKNOWN). */
  static async create(stack: Stack, handle: HandleState, options: SessionOptions = {}): Promise<StackSession> {
    const messages: ConvMessage[] = [];
    const lines: Line[] = [];
    const diagnostics: Diagnostic[] = [];
    const defaults = { ...SANDBOX_DEFAULTS, ...options.sandbox };
    // The bounds a line's own settings meet (spec.ts): a bad default is the caller's error, said before anything loads.
    checkSandboxValues(defaults);
    for (const [index, handler] of stack.handlers.entries()) {
      const sink = options.log;
      const ctx = newLineContext({
        module: handler.module ?? '<none>',
        handle,
        conversation: options.conversation,
        messages,
        log: sink && ((r) => sink({
          ...r, line: `${handler.file}:${handler.line}`, service: handle.items.service, user: handle.items.user,
          ...(options.sessionId ? { session: options.sessionId } : {}),
        })),
        limits: options.limits,
      });
      const spec = handler.spec;
      const fault = spec?.faultCode ?? defaults.faultCode;
      const line: Line = {
        handler,
        ctx,
        timeoutMs: spec?.timeoutMs ?? defaults.timeoutMs,
        // Fail closed: a faulting line never passes.
        faultCode: fault === PAM.SUCCESS.number || fault === PAM.IGNORE.number ? PAM.SESSION_ERR.number : fault,
        whatIf: options.whatIf?.get(index),
      };
      if (handler.kind === 'module' && spec && !whatIfOnly(line)) {
        const path = resolveModulePath(spec.path, options.moduleDir);
        line.path = path;
        try {
          const load = lineLoadOptions(spec, defaults, { pin: options.pins?.[index], strictPermissions: options.strictPermissions, cache: options.cache });
          // Bad grants are reported whatever the module imports.
          if (spec.grants.read?.length) line.wasi = wasiImports(spec.grants, { onOutput: options.onOutput });
          const metered = load.meter !== undefined;
          line.loaded = await loadComponent(path, load);
          // WASI's host side only for a module that imports some of it.
          if (!line.wasi && line.loaded.imports.some((name) => name.startsWith('wasi:'))) {
            line.wasi = wasiImports(spec.grants, { onOutput: options.onOutput });
          }
          if (metered) line.ctx.clock = line.meter = new InstanceMeter();
        } catch (e) {
          if (!(e instanceof PamwasmError)) throw e;
          line.loadError = e.message;
          // `-session` lines keep quiet about a missing module, as libpam does.
          if (!(handler.quiet && e.code === 'ERR_PAMWASM_MODULE_NOT_FOUND')) {
            diagnostics.push({ file: handler.file, line: handler.line, severity: 'error', message: e.message });
          }
        }
      }
      lines.push(line);
    }
    const session = new StackSession(stack, handle, lines, messages, diagnostics);
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
   * (`parkIdleLines`): for a host that holds many sessions between their open
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
      markBusy(line);
      line.parked = line.meter.park();
      line.instance = undefined;
      parked++;
    }
    parkCounts.parked += parked;
    return parked;
  }

  /**
   * Ends the session (pam_end): drops every instance, gives their memories
   * back to the sandbox's pool, and closes what granted modules left open.
   */
  end(): void {
    for (const line of this.lines) {
      markBusy(line);
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
    markBusy(line);
    try {
      if (!line.instance) {
        const meter = line.meter;
        meter?.arm(line.timeoutMs);
        if (line.parked) {
          meter!.wake(line.parked);
          parkCounts.woken++;
        }
        try {
          line.instance = line.loaded!.instantiate({ ...line.wasi?.imports, ...hostImports(line.ctx) }, meter?.instantiateCore);
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
        status = hook === 'open' ? line.instance.openSession(flags, argv) : line.instance.closeSession(flags, argv);
        failed(line.meter);
      } finally {
        this.running = undefined;
      }
      // Unless the session ended during the call.
      if (line.parkable && line.instance) markIdle(line);
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
    const reason = why?.reason;
    const line = this.lines[s.index];
    const h = line.handler;
    return {
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
      ...(reason ?? line.loadError ? { reason: reason ?? line.loadError } : h.kind === 'must-fail' ? { reason: 'malformed line' } : {}),
      ...(why?.fault ? { fault: why.fault } : {}),
      ...(line.whatIf?.[hook] !== undefined && h.kind === 'module' ? { whatIf: true as const } : {}),
    };
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
