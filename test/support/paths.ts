/**
 * Test support for comparing the loader's two paths (the fast path of
 * host/loader/component and jco's glue): load a component through each, run
 * the same calls on an instance of each through the real host imports, and
 * record everything observable: results and exceptions of every call
 * (instantiation included), whether the time limit stopped it, the
 * conversation, syslog lines, the PAM environment, the module data and what
 * the glue wrote to console.error.
 */
import { vi } from 'vitest';
import { loadComponent, type ImportObject, type InstantiateCore, type LoadedComponent } from '../../host/loader/index.js';
import { hostImports, newHandleState, newLineContext, type LogRecord } from '../../host/runtime/index.js';
import { InstanceMeter } from '../../host/sandbox/index.js';

/** What a load came to: the component's public fields, or the error's code and message. */
export type LoadOutcome =
  | { ok: true; via: string; imports: string[]; exports: string[]; coreModules: { name: string; size: number }[]; sha256: string; size: number }
  | { ok: false; code: string; message: string };

export async function loadBoth(input: string | Uint8Array, options: Parameters<typeof loadComponent>[1] = {}) {
  const settle = async (fastPath: boolean): Promise<[LoadOutcome, LoadedComponent | undefined]> => {
    try {
      const m = await loadComponent(input, { ...options, fastPath });
      const { via, imports, exports, coreModules, sha256, size } = m;
      return [{ ok: true, via, imports, exports, coreModules, sha256, size }, m];
    } catch (e) {
      const err = e as { code?: string; message?: string };
      return [{ ok: false, code: err.code ?? String(e), message: err.message ?? '' }, undefined];
    }
  };
  const [fast, fastModule] = await settle(true);
  const [jco, jcoModule] = await settle(false);
  return { fast, jco, fastModule, jcoModule };
}

/** Strips what is meant to differ (the path taken) from a load outcome. */
export const sameFields = (o: LoadOutcome) => (o.ok ? { ...o, via: undefined } : o);

export interface Call { hook: 'openSession' | 'closeSession'; flags: unknown; argv: unknown }
export const open = (flags: unknown, argv: unknown): Call => ({ hook: 'openSession', flags, argv });
export const close = (flags: unknown, argv: unknown): Call => ({ hook: 'closeSession', flags, argv });

/** Changes the host's import functions, e.g. to return values the world does not allow. */
export type HostTweak = (imports: ImportObject) => ImportObject;

const describeError = (e: unknown) => (e instanceof Error ? `${e.constructor.name}: ${e.message}` : `thrown ${typeof e}: ${String(e)}`);

export interface Trace {
  events: ({ ok: unknown } | { error: string; timedOut: boolean })[];
  messages: unknown[];
  log: LogRecord[];
  env: [string, string][];
  data: [string, string][];
  consoleErrors: string[];
  /** Calls across the core boundary: the host into each core instance's exports, the guest into its imports. */
  core: string[];
}

const CORE_RECORDS = 4000;
const show = (v: unknown) => (typeof v === 'bigint' ? `${v}n` : String(v));

/**
 * `instantiateCore` through `hook`, with every function a core instance
 * imports or exports wrapped to record its calls, arguments and results:
 * the glue takes only `exports` from what the hook returns.
 */
function recording(hook: InstantiateCore, out: string[]): InstantiateCore {
  let n = 0;
  const record = (line: string) => { if (out.length < CORE_RECORDS) out.push(line); };
  const wrap = (label: string, f: (...a: unknown[]) => unknown) => (...args: unknown[]) => {
    record(`${label}(${args.map(show).join(', ')})`);
    try {
      const r = f(...args);
      record(`${label} -> ${show(r)}`);
      return r;
    } catch (e) {
      record(`${label} threw ${describeError(e)}`);
      throw e;
    }
  };
  return ((module: WebAssembly.Module, imports?: WebAssembly.Imports) => {
    const k = n++;
    record(`instantiate #${k} with ${imports === undefined ? 'no imports object' : Object.keys(imports).join(', ')}`);
    const wrapped = imports && Object.fromEntries(Object.entries(imports).map(([mod, ns]) => [mod, Object.fromEntries(Object.entries(ns).map(([name, v]) => [
      name, typeof v === 'function' ? wrap(`#${k} import ${mod}.${name}`, v as (...a: unknown[]) => unknown) : v,
    ]))]));
    const instance = (hook as (m: WebAssembly.Module, i?: WebAssembly.Imports) => WebAssembly.Instance)(module, wrapped);
    const exports = Object.fromEntries(Object.entries(instance.exports).map(([name, v]) => [
      name, typeof v === 'function' ? wrap(`#${k} export ${name}`, v as (...a: unknown[]) => unknown) : v,
    ]));
    return { exports } as unknown as WebAssembly.Instance;
  }) as InstantiateCore;
}

/** A fresh instance of `m`, then `calls` one after the other (each within `limitMs`), recorded. */
export function runCalls(m: LoadedComponent, calls: Call[], options: { limitMs: number; tweak?: HostTweak }): Trace {
  const log: LogRecord[] = [];
  const handle = newHandleState({ service: 'login', user: 'alice', tty: 'pts/1', rhost: 'host.example' }, { HOME: '/home/alice' });
  let prompts = 0;
  const ctx = newLineContext({
    module: 'm.wasm',
    handle,
    log: (r) => log.push(r),
    conversation: { prompt: (style, text) => (prompts++ % 2 ? undefined : `answer ${style} ${text.length}`) },
  });
  const imports = options.tweak ? options.tweak(hostImports(ctx)) : hostImports(ctx);
  const consoleErrors: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => { consoleErrors.push(args.map((a) => describeError(a)).join(' ')); });
  const meter = new InstanceMeter();
  const events: Trace['events'] = [];
  const core: string[] = [];
  try {
    meter.arm(options.limitMs);
    let instance;
    try {
      instance = m.instantiate(imports, recording(meter.instantiateCore, core));
    } catch (e) {
      events.push({ error: describeError(e), timedOut: meter.timedOut });
    }
    if (instance) {
      for (const c of calls) {
        meter.arm(options.limitMs);
        try {
          events.push({ ok: (instance[c.hook] as (f: unknown, a: unknown) => unknown)(c.flags, c.argv) });
        } catch (e) {
          events.push({ error: describeError(e), timedOut: meter.timedOut });
        }
      }
    }
  } finally {
    spy.mockRestore();
  }
  return {
    events,
    messages: ctx.messages,
    log,
    env: [...handle.env],
    data: [...ctx.data].map(([k, v]) => [k, Buffer.from(v).toString('hex')]),
    consoleErrors,
    core,
  };
}
