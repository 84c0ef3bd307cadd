/**
 * A stack checked once and bound to many sessions (wasmtime's InstancePre):
 * each line's module path, its sandbox settings checked and turned into the
 * loader's options, and its module loaded into the engine's caches. Every
 * session made from it (StackSession) gets its own instances, memory and
 * module data; what it shares is what does not change from one session to
 * the next. An engine keeps one per parse of a stack file (a kept parse is
 * the same object while its files are unchanged) and settings (the disk
 * cache's warnings go to the first caller's `onWarning`).
 *
 * Each session still asks the loader for its lines' modules, which costs a
 * stat of each module file while the engine knows it unchanged: a module
 * replaced on disk is what the next session runs, as with libpam's dlopen
 * at pam_start. Lines that name the same file with the same settings share
 * one load per session (one stat, one verdict), as libpam's dlopen of a
 * path already open in the handle gives the same library.
 *
 * @example
 *   const engine = createEngine();
 *   const prepared = await engine.prepare(parseStackFile('login.stack', { engine }));
 *   const session = await prepared.session(newHandleState({ service: 'login', user: 'alice' }));
 */
import { PAM } from '../codes/index.js';
import { PamwasmError } from '../errors/index.js';
import { newEngineState, type EngineState } from '../engine/state.js';
import { componentLoader, type LoadedComponent, type LoadOptions, type ModuleInstance } from '../loader/index.js';
import { newLineContext, type ConvMessage, type HandleState, type LineContext } from '../runtime/index.js';
import { checkSandboxValues, InstanceMeter, wasiImports, type Fault, type Parked } from '../sandbox/index.js';
import { lineLoadOptions, SANDBOX_DEFAULTS, type SandboxDefaults } from './line-options.js';
import type { Diagnostic, Handler, Stack } from './parse.js';
import { resolveModulePath, StackSession, type SessionOptions, type WhatIf } from './session.js';

/** The session options that shape a prepared stack (the rest are each session's). */
export type PrepareOptions = Pick<SessionOptions, 'moduleDir' | 'sandbox' | 'strictPermissions' | 'pins' | 'whatIf' | 'cache' | 'engine'>;

/** One stack line as every session of a prepared stack starts it. */
interface PreparedLine {
  handler: Handler;
  timeoutMs: number;
  faultCode: number;
  /** The module file, resolved; set for a module line that runs its module. */
  path?: string;
  /** The loader's options for it. */
  load?: LoadOptions;
  /** Its module's load, judged and checked at each call (componentLoader). */
  loader?: () => Promise<LoadedComponent>;
  /** An earlier line that loads the same file with the same options: a session loads it once for both. */
  sameAs?: number;
  /** Why its settings were refused. */
  refused?: unknown;
}

/** One session's stack line. */
export interface Line {
  handler: Handler;
  ctx: LineContext;
  timeoutMs: number;
  faultCode: number;
  meter?: InstanceMeter;
  wasi?: ReturnType<typeof wasiImports>;
  loaded?: LoadedComponent;
  loadError?: string;
  instance?: ModuleInstance;
  /** Whether the line's instance can be parked when idle (see host/stack/park.ts). */
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

/** A line that never runs its module: a what-if answers both hooks. */
export const whatIfOnly = (w: WhatIf | undefined): boolean => w?.open !== undefined && w.close !== undefined;

export class PreparedStack {
  private constructor(
    readonly stack: Stack,
    readonly engine: EngineState,
    private readonly lines: readonly PreparedLine[],
    private readonly whatIf: SessionOptions['whatIf'],
  ) {}

  /**
   * Checks `stack`'s settings and loads its modules into the engine, once per
   * parse and settings: a second call with the same ones gives the same
   * PreparedStack. A bad sandbox default throws (the caller's error); a line
   * whose settings or module are refused is said by each session made from it.
   */
  static prepare(stack: Stack, options: PrepareOptions = {}): Promise<PreparedStack> {
    const engine = options.engine ?? newEngineState();
    let kept = engine.prepared.get(stack);
    if (!kept) engine.prepared.set(stack, kept = { byKey: new Map() });
    const byKey = kept.byKey;
    // Settings made only of strings and flags (no sandbox, pins or what-ifs, objects a caller could change in place) are compared as they are.
    const plain = options.sandbox === undefined && options.pins === undefined && options.whatIf === undefined;
    const parts = plain ? [options.moduleDir, options.strictPermissions, options.cache?.dir] : undefined;
    const last = kept.last;
    let key: string;
    if (parts && last && parts.every((v, i) => v === last.parts[i])) key = last.key;
    else {
      // What-ifs are part of the key: they decide which lines load, and each session of it answers with their codes.
      key = JSON.stringify([options.moduleDir ?? null, options.sandbox ?? null, options.strictPermissions ?? null, options.pins ?? null, [...(options.whatIf ?? [])], options.cache?.dir ?? null]);
      if (parts) kept.last = { parts, key };
    }
    let p = byKey.get(key);
    if (!p) {
      const made = PreparedStack.make(stack, options, engine);
      byKey.set(key, made);
      made.catch(() => { if (byKey.get(key) === made) byKey.delete(key); });
      p = made;
    }
    return p;
  }

  /** A new session of this stack: fresh instances on `handle`, made at each line's first call. */
  session(handle: HandleState, options: Omit<SessionOptions, keyof PrepareOptions> = {}): Promise<StackSession> {
    return StackSession.fromPrepared(this, handle, options);
  }

  /**
   * Binds each line to one session (StackSession.fromPrepared): its context on
   * `handle`, its module (from the engine's cache), its WASI sandbox and meter.
   */
  async bind(handle: HandleState, options: SessionOptions, messages: ConvMessage[], diagnostics: Diagnostic[]): Promise<Line[]> {
    const lines: Line[] = [];
    // One load per module file and options in a session: one stat of the file, and every line of it runs what that judged.
    const loads: (Promise<LoadedComponent> | undefined)[] = [];
    for (let index = 0; index < this.lines.length; index++) {
      const p = this.lines[index];
      const handler = p.handler;
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
      const line: Line = { handler, ctx, timeoutMs: p.timeoutMs, faultCode: p.faultCode, whatIf: this.whatIf?.get(index) };
      if (p.path !== undefined) {
        line.path = p.path;
        const spec = handler.spec!;
        try {
          if (p.refused !== undefined) throw p.refused;
          // Bad grants are reported whatever the module imports.
          if (spec.grants.read?.length) line.wasi = wasiImports(spec.grants, { onOutput: options.onOutput });
          const load = (p.sameAs !== undefined && loads[p.sameAs]) || p.loader!();
          loads[index] = load;
          line.loaded = await load;
          // WASI's host side only for a module that imports some of it.
          if (!line.wasi && line.loaded.imports.some((name) => name.startsWith('wasi:'))) {
            line.wasi = wasiImports(spec.grants, { onOutput: options.onOutput });
          }
          if (p.load!.meter !== undefined) line.ctx.clock = line.meter = new InstanceMeter(this.engine);
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
    return lines;
  }

  /** Checks each line's settings and loads its module into the engine. */
  private static async make(stack: Stack, options: PrepareOptions, engine: EngineState): Promise<PreparedStack> {
    const defaults: SandboxDefaults = { ...SANDBOX_DEFAULTS, ...options.sandbox };
    // The bounds a line's own settings meet (spec.ts): a bad default is the caller's error, said before anything loads.
    checkSandboxValues(defaults);
    const lines: PreparedLine[] = [];
    /** The first line of each module file and load options. */
    const firstOf = new Map<string, number>();
    for (const [index, handler] of stack.handlers.entries()) {
      const spec = handler.spec;
      const fault = spec?.faultCode ?? defaults.faultCode;
      const line: PreparedLine = {
        handler,
        timeoutMs: spec?.timeoutMs ?? defaults.timeoutMs,
        // Fail closed: a faulting line never passes.
        faultCode: fault === PAM.SUCCESS.number || fault === PAM.IGNORE.number ? PAM.SESSION_ERR.number : fault,
      };
      if (handler.kind === 'module' && spec && !whatIfOnly(options.whatIf?.get(index))) {
        line.path = resolveModulePath(spec.path, options.moduleDir);
        try {
          line.load = lineLoadOptions(spec, defaults, { pin: options.pins?.[index], strictPermissions: options.strictPermissions, cache: options.cache });
        } catch (e) {
          line.refused = e;
        }
        if (line.load) {
          const same = `${line.path}\0${JSON.stringify(line.load)}`;
          line.sameAs = firstOf.get(same);
          if (line.sameAs === undefined) firstOf.set(same, index);
          line.loader = line.sameAs === undefined ? componentLoader(line.path, { ...line.load, engine }) : lines[line.sameAs].loader;
          // Loaded once here, into the engine; each session's load is then a cache hit. What fails is said by each session.
          if (line.sameAs === undefined) await line.loader!().catch(() => undefined);
        }
      }
      lines.push(line);
    }
    return new PreparedStack(stack, engine, lines, options.whatIf);
  }
}
