/**
 * What the bench runs on: a temp dir with pam.d service files for the
 * native baselines and stack files for pamwasm, and the native libpam bound
 * in this thread.
 *
 * The native side calls libpam directly through koffi, with the bridge's own
 * declarations (host/libpam/ffi.ts), in the bench's main thread: the bridge's
 * helper (a process, or a worker in `in-process` mode) adds a round trip of
 * about 50 us per call, which would be measuring the bridge, not libpam.
 * pam_permit and pam_exec never converse, so the conversation function only
 * refuses.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeByNumber, PAM } from '../codes/index.js';
import { NoConfdirError, PamError } from '../errors/index.js';
import { loadLibpam, type Libpam, type Ptr } from '../libpam/ffi.js';
import { newHandleState, type HandleState } from '../runtime/index.js';
import type { Engine } from '../engine/index.js';
import { StackSession, type SessionOptions } from '../stack/index.js';

export const USER = 'alice';
export const SERVICE = 'bench';

export class BenchDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'pamwasm-bench-'));

  /** A pam.d service file in the dir (the dir is the confdir). */
  service(name: string, lines: string[]): string {
    writeFileSync(join(this.dir, name), lines.join('\n') + '\n');
    return name;
  }

  /** A pamwasm stack file; returns its path. */
  stack(name: string, lines: string[]): string {
    const path = join(this.dir, `${name}.stack`);
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const repeatLine = (line: string, n: number): string[] => Array.from({ length: n }, () => line);

/** One libpam transaction at a time, on handles of this thread. */
export class NativePam {
  private readonly pam: Libpam;
  private readonly conv: bigint;

  constructor(private readonly confdir: string) {
    this.pam = loadLibpam();
    if (!this.pam.pam_start_confdir) throw new NoConfdirError(`${this.pam.path} has no pam_start_confdir (Linux-PAM < 1.4.0): the native baselines need it.`);
    this.conv = this.pam.registerConv(() => PAM.CONV_ERR.number);
  }

  /** pam_start_confdir: a handle on `service`. */
  start(service: string): bigint {
    const out: Ptr[] = [null];
    const code = this.pam.pam_start_confdir!(service, USER, { conv: this.conv, appdata_ptr: null }, this.confdir, out);
    if (code !== PAM.SUCCESS.number || out[0] === null) this.fail('pam_start_confdir', code);
    return out[0]!;
  }

  open(h: bigint): void {
    const code = this.pam.pam_open_session(h, 0);
    if (code !== PAM.SUCCESS.number) this.fail('pam_open_session', code);
  }

  close(h: bigint): void {
    const code = this.pam.pam_close_session(h, 0);
    if (code !== PAM.SUCCESS.number) this.fail('pam_close_session', code);
  }

  end(h: bigint): void {
    this.pam.pam_end(h, PAM.SUCCESS.number);
  }

  /** A whole session: start, open, close, end. */
  session(service: string): void {
    const h = this.start(service);
    try {
      this.open(h);
      this.close(h);
    } finally {
      this.end(h);
    }
  }

  dispose(): void {
    this.pam.unregisterConv(this.conv);
  }

  private fail(call: string, code: number): never {
    throw new PamError(call, code, codeByNumber(code).name, this.pam.pam_strerror(null, code) ?? '');
  }
}

export const newHandle = (): HandleState => newHandleState({ service: SERVICE, user: USER, tty: 'pts/0' });

/** A pamwasm session on `stackFile`, as a host makes one: parse, bind, and nothing run yet. */
export async function wasmSession(engine: Engine, stackFile: string, options: SessionOptions = {}): Promise<StackSession> {
  const s = await StackSession.create(engine.parseStackFile(stackFile), newHandle(), { ...options, engine });
  if (s.diagnostics.length) throw new Error(`${stackFile}: ${s.diagnostics.map((d) => d.message).join('; ')}`);
  return s;
}

/** Throws unless a hook result is PAM_SUCCESS: a bench of failing calls measures the wrong path. */
export function expectSuccess(what: string, r: { code: number; name: string; trace: { reason?: string }[] }): void {
  if (r.code !== PAM.SUCCESS.number) {
    const why = r.trace.map((t) => t.reason).filter(Boolean).join('; ');
    throw new Error(`${what} returned ${r.name}${why ? ` (${why})` : ''}`);
  }
}

/** What every group of the bench gets: where to write, how hard to try, where its figures go. */
export interface BenchContext {
  /** Fewer iterations and rows: a smoke run (the test suite's). */
  readonly quick: boolean;
  readonly dir: BenchDir;
  /** Figures by key (`close.native_permit_us`, ...): what `--json` prints. */
  readonly results: Record<string, number>;
  /** Why a figure is missing or what limited it, by key. */
  readonly notes: Record<string, string>;
  progress(message: string): void;
  /** The run's engine: sessions and loads in the bench's own process share its caches and pool. */
  readonly engine: Engine;
}
