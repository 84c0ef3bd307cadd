/**
 * Test support for the sandbox's hostile corpus: where the built modules
 * are, and stack files written inline into a temp dir, run one session each
 * with both hooks timed.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadComponent } from '../../host/loader/index.js';
import { hostImports, newHandleState, newLineContext, type LogRecord } from '../../host/runtime/index.js';
import { faultOf, InstanceMeter, type Fault } from '../../host/sandbox/index.js';
import { parseStackFile, runStack, StackSession, type HookResult } from '../../host/stack/index.js';
import { packageRoot } from '../../host/wit/index.js';
import { createEngine } from '../../host/engine/index.js';

/** Where `npm run build:guests` puts the corpus. */
export const HOSTILE_DIR = join(packageRoot(), 'guest-modules', 'hostile', 'dist');
export const hostile = (name: string): string => join(HOSTILE_DIR, `${name}.wasm`);

export const ITEMS = { service: 'login', user: 'alice', tty: 'pts/1' };
/** The good line that follows each hostile one. */
export const GOOD_LINE = 'session required pam_debug.wasm open_session=success close_session=success';

export interface Run {
  open: HookResult;
  close: HookResult;
  openMs: number;
  closeMs: number;
  messages: string[];
  syslog: LogRecord[];
  env: Map<string, string>;
  /** `<line>: <message>` of each load problem. */
  diagnostics: string[];
}

/**
 * The most RSS (bytes) this file's work can be shown to have reached since
 * `maxRssKiBBefore` (a `process.resourceUsage().maxRSS` taken earlier): the
 * process's peak when the work raised it, else 0. Test files share a process
 * (vitest.config.ts): an earlier file may have left the process's peak, and
 * its RSS (V8 keeps freed pages), above what this work reached, and neither
 * is this work's.
 */
export function peakRssSince(maxRssKiBBefore: number): number {
  const peak = process.resourceUsage().maxRSS;
  return peak > maxRssKiBBefore ? peak * 1024 : 0;
}

/** A temp dir of stack files; `remove()` cleans up. */
export class TempStacks {
  readonly dir = mkdtempSync(join(tmpdir(), 'pamwasm-hostile-'));
  /** The engine its sessions share, as one host's do: each module is loaded once. */
  readonly engine = createEngine();
  private files = 0;

  constructor() {
    const missing = ['loop_open', 'trap', 'truncated', 'random'].filter((m) => !existsSync(hostile(m)));
    if (missing.length) throw new Error(`${missing.join(', ')} missing from ${HOSTILE_DIR}: run \`npm run build:guests\`.`);
  }

  /** Writes a stack file (mode 0644) and returns its path. */
  file(text: string): string {
    const file = join(this.dir, `stack-${++this.files}`);
    writeFileSync(file, text, { mode: 0o644 });
    return file;
  }

  /** Runs open and close of `text` on one StackSession, timing each hook. */
  async run(text: string): Promise<Run> {
    const syslog: LogRecord[] = [];
    const handle = newHandleState(ITEMS);
    const session = await StackSession.create(parseStackFile(this.file(text), { engine: this.engine }), handle, { log: (r) => syslog.push(r), engine: this.engine });
    try {
      let t = performance.now();
      const open = await session.open();
      const openMs = performance.now() - t;
      t = performance.now();
      const close = await session.close();
      const closeMs = performance.now() - t;
      return {
        open, close, openMs, closeMs, syslog, env: handle.env,
        messages: session.messages.map((m) => m.text),
        diagnostics: session.diagnostics.map((d) => `${d.line}: ${d.message}`),
      };
    } finally {
      session.end();
    }
  }

  /** A good session, e.g. right after a hostile one in the same process, succeeds. */
  async expectGoodSession(): Promise<void> {
    const r = await runStack({ stackFile: this.file(`${GOOD_LINE}\nsession required pam_permit.wasm\n`), items: ITEMS, engine: this.engine });
    expect(r.diagnostics).toEqual([]);
    expect(r.open?.name).toBe('PAM_SUCCESS');
    expect(r.close?.name).toBe('PAM_SUCCESS');
    expect(r.messages.map((m) => m.text)).toEqual(['open_session=success', 'close_session=success']);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Outcome { status?: string; fault?: Fault; ms: number; log: LogRecord[]; shown: number; data: number }

/**
 * One open-session of `module` (a corpus module's name, or a component's
 * bytes) loaded through one path, with `argc` arguments, as a session line
 * runs it: metered, its clock armed for the call, a fault recorded by a host
 * call deciding the outcome whatever the hook returned.
 */
export async function openOn(path: 'fast' | 'jco', module: string | Uint8Array, argc: number, limitMs = 100, handle = newHandleState(ITEMS)): Promise<Outcome> {
  const loaded = await loadComponent(typeof module === 'string' ? hostile(module) : module, { fastPath: path === 'fast', meter: { maxMemoryPages: 1024, importMemory: true } });
  expect(loaded.via).toBe(path);
  const log: LogRecord[] = [];
  const ctx = newLineContext({ module: typeof module === 'string' ? module : 'crafted', handle, log: (r) => log.push(r) });
  const meter = new InstanceMeter();
  ctx.clock = meter;
  meter.arm(limitMs);
  const instance = loaded.instantiate(hostImports(ctx), meter.instantiateCore);
  meter.arm(limitMs);
  const t = performance.now();
  const out: Omit<Outcome, 'ms'> = { log, shown: ctx.messages.length, data: 0 };
  try {
    // As a stack line calls it: through the meter, which knows when the hook's own code runs.
    const status = meter.hookCall(() => instance.openSession({ silent: false }, Array.from({ length: argc }, (_, i) => `a${i}`)));
    if (meter.failure !== undefined) throw meter.failure;
    out.status = status;
  } catch (e) {
    out.fault = faultOf(meter.explain(e));
  }
  const ms = performance.now() - t;
  meter.forget();
  return { ...out, ms, shown: ctx.messages.length, data: ctx.data.bytes };
}
