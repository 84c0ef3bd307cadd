/**
 * The host API for Node services: open a real PAM session in which system
 * modules and WASM modules take part, close it hours or days later, and
 * never lose a close.
 *
 * Order: open runs the system stack (pam_open_session on a real libpam
 * handle, in its helper process) and then the WASM stack; close runs the
 * WASM stack's close and then pam_close_session on the same handle, then
 * pam_end: the WASM modules sit inside the system session, the way a stack's
 * later lines sit inside its earlier ones. WASM modules read and write the
 * handle's items and PAM environment: the system modules' env is copied in
 * before the WASM stack runs, and what the WASM modules put is written back
 * with pam_putenv, so pam_getenvlist shows both.
 *
 * @example
 *   const host = await createHost({ registry: '/var/lib/pamwasm/registry.db', system: { service: 'sshd' } });
 *   const s = await host.openSession({ stack: '/etc/pamwasm/sshd.stack', service: 'sshd', user: 'alice', tty: 'ssh' });
 *   if (!s.opened) throw new Error(`session refused: ${s.name}`);
 *   spawnShell({ env: s.envObject() });
 *   ...
 *   await s.close();
 */
import { randomUUID } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { namedCode, PAM } from '../codes/index.js';
import { UsageError } from '../errors/index.js';
import { openPamHandle, type Conversation, type PamHandle, type PamMode } from '../libpam/index.js';
import { logSink, newHandleState, WIT_ITEMS, type ConvMessage, type HandleState, type ImportLimits, type LogOption, type LogRecord, type PromptStyle, type WitItem } from '../runtime/index.js';
import { createEngine, type Engine } from '../engine/index.js';
import { parseStackFile, StackSession, type Diagnostic, type SandboxDefaults, type TraceEntry } from '../stack/index.js';
import { closeOverall, closeRecord, collectMessages, lineItems, type CloseOutcome, type ClosedRecord } from './close.js';
import { defaultRegistryPath, Registry, type SessionRecord, type SessionState } from './registry.js';

export { DEFAULT_KEEP_MS, defaultRegistryPath, Registry, type SessionRecord, type SessionState } from './registry.js';
export type { ClosedRecord } from './close.js';

export interface HostOptions {
  /** Where relative module paths in stacks are found (default: the bundled modules). */
  moduleDir?: string;
  /** Where relative stack names are found (default: the working directory). */
  stackDir?: string;
  /** Sandbox defaults for every line (time limit, memory limit, fault code). */
  sandbox?: Partial<SandboxDefaults>;
  /** What modules may push through imports (message sizes, env and data sizes). */
  limits?: Partial<ImportLimits>;
  /**
   * The registry's SQLite file. Default: /var/lib/pamwasm/registry.db as
   * root, else $XDG_STATE_HOME/pamwasm/registry.db (~/.local/state/...).
   * `:memory:` keeps nothing (no recovery after a crash).
   */
  registry?: string;
  /** A system PAM service whose stack runs on a real libpam handle around the WASM stack. */
  system?: { service: string; confdir?: string; mode?: PamMode };
  /**
   * Where module syslog lines go: `syslog` (default: the system log, as
   * LOG_AUTHPRIV, as pam_syslog writes), `stderr`, `none`, or a function.
   * Each record carries the session id, service, user and stack line.
   */
  log?: LogOption;
  /** Refuse stack files and modules others than root could change (default: as root). */
  strictPermissions?: boolean;
  /**
   * The engine whose caches, memory pool and park list the host's sessions
   * use (host/engine). Default: one made for this host.
   */
  engine?: Engine;
}

export interface OpenSessionOptions {
  /** The WASM stack file (absolute, or relative to `stackDir`). */
  stack: string;
  service: string;
  user: string;
  tty?: string;
  rhost?: string;
  ruser?: string;
  silent?: boolean;
  /**
   * The application's conversation, for system and WASM modules alike. WASM
   * modules' info and error messages reach it one by one, in order; a prompt
   * from a WASM module needs a synchronous answer (an array, not a promise),
   * else the module gets PAM_CONV_ERR.
   */
  conversation?: Conversation;
  /**
   * A libpam handle the application already started and authenticated
   * (openPamHandle + authenticate + acctMgmt), to carry the session instead of
   * a new one: as sshd does, auth and session then share one handle, so
   * pam_set_data from auth modules reaches session modules. The session
   * takes it over and ends it (pam_end) at close. System modules' messages
   * go to the conversation the handle was started with.
   */
  pamHandle?: PamHandle;
}


export class PamwasmHost {
  readonly registry: Registry;
  /** Where module syslog lines go (HostOptions.log). */
  readonly log: (record: LogRecord) => void;
  /** What the host's sessions share: compiled modules, kept parses, the memory pool (HostOptions.engine). */
  readonly engine: Engine;

  constructor(readonly options: HostOptions) {
    this.engine = options.engine ?? createEngine();
    this.log = logSink(options.log);
    this.registry = new Registry(options.registry ?? defaultRegistryPath());
  }

  /** Opens a session; `opened` says whether it did. Recorded in the registry before this returns. */
  async openSession(o: OpenSessionOptions): Promise<Session> {
    for (const k of ['stack', 'service', 'user'] as const) {
      if (!o[k]) throw new UsageError(`openSession needs ${k}`);
    }
    const stackFile = isAbsolute(o.stack) ? o.stack : resolve(this.options.stackDir ?? '.', o.stack);
    const stack = parseStackFile(stackFile, { strictPermissions: this.options.strictPermissions, engine: this.engine });
    const id = randomUUID();
    const given = o.pamHandle;
    const sys = given
      ? { service: (await given.getItem('service')) ?? o.service, confdir: this.options.system?.confdir, mode: this.options.system?.mode }
      : this.options.system;
    this.registry.begin({
      id, service: o.service, user: o.user, tty: o.tty ?? null, rhost: o.rhost ?? null, ruser: o.ruser ?? null,
      stack: stackFile, stackSha256: stack.sha256, moduleDir: this.options.moduleDir ?? null,
      systemService: sys?.service ?? null, systemConfdir: sys?.confdir ?? null,
    });
    const messages: ConvMessage[] = [];
    const conversation: Conversation = async (ms) => {
      collectMessages(messages, ms);
      return o.conversation ? o.conversation(ms) : ms.map(() => null);
    };
    const items: Partial<Record<WitItem, string>> = { service: o.service, user: o.user };
    for (const k of ['tty', 'rhost', 'ruser'] as const) if (o[k] !== undefined) items[k] = o[k];

    let pamh: PamHandle | undefined;
    let system: { code: number; name: string } | undefined;
    const handle = newHandleState(items);
    try {
      if (given) {
        pamh = given;
        for (const k of ['tty', 'rhost', 'ruser'] as const) if (o[k] !== undefined) await pamh.setItem(k, o[k]!);
      } else if (sys) {
        pamh = await openPamHandle({
          service: sys.service, user: o.user, confdir: sys.confdir, mode: sys.mode, conversation,
          items: lineItems(o),
        });
      }
      if (pamh) {
        const r = await pamh.openSession({ silent: o.silent, throwOnError: false });
        system = namedCode(r.code);
        if (!r.ok) {
          await pamh.end({ throwOnError: false });
          this.registry.failed(id, r.code);
          return new Session(this, { id, o, opened: false, ...r, system, messages, trace: [], env: new Map(), diagnostics: [...stack.diagnostics] });
        }
        await pullHandle(pamh, handle);
      }
      const wasmConv = syncConversation(o.conversation, messages);
      const stackSession = await StackSession.create(stack, handle, {
        moduleDir: this.options.moduleDir, sandbox: this.options.sandbox, limits: this.options.limits,
        strictPermissions: this.options.strictPermissions, log: this.log, sessionId: id, conversation: wasmConv.conversation,
        engine: this.engine,
      });
      const before = new Map(handle.env);
      const opened = await stackSession.open({ silent: o.silent });
      await wasmConv.flush();
      if (pamh) await pushEnv(pamh, before, handle.env);
      const ok = opened.code === PAM.SUCCESS.number;
      const env = Object.fromEntries(handle.env);
      if (!ok) {
        // The application will not close a session whose open failed, so
        // undo the system open here (libpam applications do the same).
        stackSession.end();
        if (pamh) {
          await pamh.closeSession({ silent: o.silent, throwOnError: false });
          await pamh.end({ status: opened.code, throwOnError: false });
        }
      }
      this.registry.opened(id, ok, opened.code, env, stackSession.snapshot());
      const diagnostics = [...stack.diagnostics, ...stackSession.diagnostics];
      return new Session(this, {
        id, o, opened: ok, code: opened.code, name: opened.name, system, wasm: namedCode(opened.code),
        messages, trace: opened.trace, env: handle.env, diagnostics, stackSession: ok ? stackSession : undefined, pamh: ok ? pamh : undefined,
      });
    } catch (e) {
      // A host error (module refused under strict permissions, helper crash...)
      // after the system open: undo it, and record the session as never opened,
      // so that neither the application nor `recover` closes it later.
      if (pamh && system?.code === PAM.SUCCESS.number) await pamh.closeSession({ silent: o.silent, throwOnError: false }).catch(() => {});
      await pamh?.end({ throwOnError: false }).catch(() => {});
      this.registry.failed(id, PAM.SYSTEM_ERR.number);
      throw e;
    }
  }

  /**
   * Closes every session whose owning process is gone (crashed, killed), exactly
   * once, with the data saved at open. Safe to run while other hosts run.
   */
  async recover(o: { silent?: boolean } = {}): Promise<ClosedRecord[]> {
    const done: ClosedRecord[] = [];
    for (const r of this.registry.orphans()) {
      if (!this.registry.claim(r, ['opening', 'open', 'closing'])) continue;
      done.push(await closeRecord(this.registry, r, { by: 'recover', silent: o.silent, sandbox: this.options.sandbox, strictPermissions: this.options.strictPermissions, mode: this.options.system?.mode, log: this.log, engine: this.engine }));
    }
    return done;
  }

  /** Sessions in the registry, optionally only those in `states`. */
  sessions(states?: SessionState[]): SessionRecord[] {
    return this.registry.list(states);
  }

  /** Releases the registry. Open sessions stay open (and recorded) for a later close or recover. */
  async shutdown(): Promise<void> {
    this.registry.close();
  }
}

interface SessionInit {
  id: string;
  o: OpenSessionOptions;
  opened: boolean;
  code: number;
  name: string;
  system?: { code: number; name: string };
  wasm?: { code: number; name: string };
  messages: ConvMessage[];
  trace: TraceEntry[];
  env: Map<string, string>;
  diagnostics: Diagnostic[];
  stackSession?: StackSession;
  pamh?: PamHandle;
}

export interface CloseResult extends CloseOutcome {
  /** The PAM environment after both closes (pam_getenvlist just before pam_end when a system service carries the session). */
  env: string[];
}

/** An open (or refused) session. */
export class Session {
  readonly id: string;
  readonly opened: boolean;
  /** The open's overall code: the system stack's if it failed, else the WASM stack's. */
  readonly code: number;
  readonly name: string;
  readonly system?: { code: number; name: string };
  readonly wasm?: { code: number; name: string };
  readonly messages: ConvMessage[];
  readonly trace: TraceEntry[];
  readonly diagnostics: Diagnostic[];
  readonly user: string;
  readonly service: string;
  readonly tty?: string;
  private readonly envMap: Map<string, string>;
  private closing?: Promise<CloseResult>;

  constructor(private readonly host: PamwasmHost, private readonly init: SessionInit) {
    this.id = init.id;
    this.opened = init.opened;
    this.code = init.code;
    this.name = init.name;
    this.system = init.system;
    this.wasm = init.wasm;
    this.messages = init.messages;
    this.trace = init.trace;
    this.diagnostics = init.diagnostics;
    this.user = init.o.user;
    this.service = init.o.service;
    this.tty = init.o.tty;
    this.envMap = init.env;
  }

  /** The PAM environment list (pam_getenvlist), `NAME=value` strings. */
  get env(): string[] {
    return [...this.envMap].map(([k, v]) => `${k}=${v}`);
  }

  /**
   * pam_getenvlist on the real libpam handle when a system service carries
   * the session (what the application itself would see), else the env list.
   */
  async getenvlist(): Promise<string[]> {
    return this.init.pamh && !this.closing ? this.init.pamh.getenvlist() : this.env;
  }

  /** The PAM environment as an object, e.g. for a child process's env. */
  envObject(): Record<string, string> {
    return Object.fromEntries(this.envMap);
  }

  /** Closes the session (WASM stack, then the system stack, then pam_end). Runs once; later calls get the same result. */
  close(o: { silent?: boolean } = {}): Promise<CloseResult> {
    if (!this.opened) return Promise.reject(new UsageError(`session ${this.id} was not opened (${this.name}); there is nothing to close`));
    this.closing ??= this.doClose(o);
    return this.closing;
  }

  private async doClose(o: { silent?: boolean }): Promise<CloseResult> {
    const reg = this.host.registry;
    const rec = reg.get(this.id);
    if (!rec || !reg.claim(rec, ['open'])) {
      throw new UsageError(`session ${this.id} is no longer open in the registry (state ${rec?.state ?? 'missing'}): another process closed it`);
    }
    const { stackSession, pamh } = this.init;
    const before = this.messages.length;
    const envBefore = new Map(this.envMap);
    const w = await stackSession!.close({ silent: o.silent ?? this.init.o.silent });
    stackSession!.end();
    let system: { code: number; name: string } | undefined;
    let env = this.env;
    if (pamh) {
      // What the WASM close put is on the handle before the system close runs.
      await pushEnv(pamh, envBefore, this.envMap);
      const r = await pamh.closeSession({ silent: o.silent ?? this.init.o.silent, throwOnError: false });
      env = await pamh.getenvlist();
      await pamh.end({ status: r.code, throwOnError: false });
      system = namedCode(r.code);
    }
    const wasm = namedCode(w.code);
    const overall = closeOverall(wasm, system);
    reg.closed(this.id, overall.code, 'api');
    return { ...overall, wasm, ...(system ? { system } : {}), trace: w.trace, messages: this.messages.slice(before), env };
  }
}

/** Copies the real handle's items and PAM env into the state WASM modules see. */
async function pullHandle(pamh: PamHandle, handle: HandleState): Promise<void> {
  for (const item of WIT_ITEMS) {
    const v = await pamh.getItem(item);
    if (v !== undefined) handle.items[item] = v;
  }
  for (const e of await pamh.getenvlist()) {
    const eq = e.indexOf('=');
    handle.env.set(e.slice(0, eq), e.slice(eq + 1));
  }
}

/** Writes what the WASM stack changed in the PAM env back to the real handle (pam_putenv). */
async function pushEnv(pamh: PamHandle, before: Map<string, string>, after: Map<string, string>): Promise<void> {
  for (const [k, v] of after) if (before.get(k) !== v) await pamh.putenv(`${k}=${v}`);
  for (const k of before.keys()) if (!after.has(k)) await pamh.putenv(k);
}

/**
 * The WASM modules' conversation: modules call it synchronously, so info and
 * error messages are recorded at once and handed to the application's
 * (possibly async) conversation in order; `flush` waits for it.
 */
function syncConversation(app: Conversation | undefined, messages: ConvMessage[]) {
  let chain: Promise<unknown> = Promise.resolve();
  const show = (style: 'info' | 'error') => (text: string) => {
    messages.push({ style, text });
    if (app) chain = chain.then(() => app([{ style, text }])).catch(() => {});
  };
  return {
    conversation: {
      info: show('info'),
      error: show('error'),
      prompt: (style: PromptStyle, text: string) => {
        if (!app) return undefined;
        const answer = app([{ style: style === 'echo-on' ? 'prompt-echo-on' : 'prompt-echo-off', text }]);
        return Array.isArray(answer) && typeof answer[0] === 'string' ? answer[0] : undefined;
      },
    },
    flush: () => chain,
  };
}

/**
 * Starts a host.
 * @example
 *   const host = await createHost({ registry: ':memory:' });
 */
export async function createHost(options: HostOptions = {}): Promise<PamwasmHost> {
  return new PamwasmHost(options);
}
