/**
 * Test support for sessions: temp dirs holding PAM service files (never
 * /etc/pam.d), stacks, registries and component caches; the CLI and the
 * bundled `pamwasm exec` as child processes; the test-only C modules.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { buildCModule } from '../../host/build/c.js';
import { PamHelper } from '../../host/libpam/index.js';
import { packageRoot } from '../../host/wit/index.js';

export const ROOT = packageRoot();
export const BIN = join(ROOT, 'bin', 'pamwasm.js');
export const EXEC_BUNDLE = join(ROOT, 'dist', 'pamwasm-exec.mjs');
export const HOST_DIST = join(ROOT, 'dist', 'host', 'index.js');
export const NODE = process.execPath;
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** A temp dir for one test file; `cleanup()` removes it. */
export class Scratch {
  readonly path = mkdtempSync(join(tmpdir(), 'pamwasm-sessions-'));

  /** Writes a file (leading blanks of each line dropped, as for pam.d text) and returns its path. */
  write(name: string, text: string, mode = 0o644): string {
    const file = join(this.path, name);
    writeFileSync(file, text.replace(/^[ \t]+/gm, ''), { mode });
    chmodSync(file, mode);
    return file;
  }

  /** Builds a C module from fixtures/<name> into this dir; returns its path. */
  async fixture(name: string): Promise<string> {
    const out = join(this.path, `${name}.wasm`);
    await buildCModule(join(FIXTURES, name), out);
    return out;
  }

  cleanup(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export interface Ran { code: number | null; stdout: string; stderr: string }

const ran = (r: SpawnSyncReturns<string>): Ran => ({ code: r.status, stdout: r.stdout, stderr: r.stderr });

/** `pamwasm <args>` as a child process, not waited for. */
export function pamwasmAsync(args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `pamwasm <args>` as a child process. */
export function pamwasm(args: string[], env: NodeJS.ProcessEnv = {}): Ran {
  return ran(spawnSync(NODE, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 60_000 }));
}

/** The bundled exec with exactly `env` as its environment, as pam_exec would start it. */
export function execBundle(args: string[], env: Record<string, string>): Ran {
  return ran(spawnSync(NODE, [EXEC_BUNDLE, ...args], { encoding: 'utf8', env, timeout: 60_000 }));
}

/** The last line of stdout as JSON. */
export const lastJson = <T = unknown>(stdout: string): T => JSON.parse(stdout.trim().split('\n').at(-1)!) as T;

/** Starts a Node script; resolves once it prints `ready` (its stderr is kept for errors). */
export function startScript(file: string, args: string[] = []): Promise<{ pid: number; kill: (s: NodeJS.Signals) => Promise<number | null>; stderr: () => string }> {
  const child = spawn(NODE, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('ready\n')) {
        resolve({
          pid: child.pid!,
          stderr: () => err,
          kill: async (s) => { child.kill(s); const e = await exited; return e.signal ? null : e.code; },
        });
      }
    });
    exited.then((e) => reject(new Error(`script exited (${e.code ?? e.signal}) before ready: ${err}`)));
  });
}

/**
 * For a test file of exec sessions: a scratch folder with a registry and a
 * component cache in it, and a libpam helper process (the application
 * holding the PAM handles), started before the tests and gone after them.
 */
export function execScratch() {
  const dir = new Scratch();
  const fx = { dir, registry: `${dir.path}/registry.db`, cache: `${dir.path}/cache`, helper: undefined as unknown as PamHelper };
  beforeAll(async () => {
    fx.helper = await PamHelper.start({ mode: 'helper' });
  });
  afterAll(async () => {
    await fx.helper?.close();
    dir.cleanup();
  });
  return fx;
}
