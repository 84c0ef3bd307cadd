/**
 * How the bench measures: medians of batch means after a warm-up, child
 * processes for anything that must start cold, and a one-line description
 * of the machine the figures came from.
 *
 * Why batches: one pam_close_session is about 10 us and performance.now()
 * costs a fraction of that, so each sample is the mean of a batch of calls;
 * the median over batches drops the batches a busy machine interrupted
 * (this bench often runs on shared, loaded machines).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../wit/index.js';

export interface Repeat {
  /** Calls per sample. */
  batch: number;
  /** Samples; the figure is their median. */
  batches: number;
  /** Untimed calls first (JIT, caches). Default: two batches. */
  warmup?: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Microseconds per call of a synchronous `fn`, one sample a batch, after the warm-up. */
export function samplesSync(fn: () => unknown, r: Repeat): number[] {
  for (let i = 0; i < (r.warmup ?? r.batch * 2); i++) fn();
  const samples: number[] = [];
  for (let b = 0; b < r.batches; b++) {
    const t0 = performance.now();
    for (let i = 0; i < r.batch; i++) fn();
    samples.push(((performance.now() - t0) * 1000) / r.batch);
  }
  return samples;
}

/** Median microseconds per call of a synchronous `fn`. */
export const timeSync = (fn: () => unknown, r: Repeat): number => median(samplesSync(fn, r));

/** Microseconds per call of an async `fn` (awaited one after another), one sample a batch, after the warm-up. */
export async function samplesAsync(fn: () => Promise<unknown>, r: Repeat): Promise<number[]> {
  for (let i = 0; i < (r.warmup ?? r.batch * 2); i++) await fn();
  const samples: number[] = [];
  for (let b = 0; b < r.batches; b++) {
    const t0 = performance.now();
    for (let i = 0; i < r.batch; i++) await fn();
    samples.push(((performance.now() - t0) * 1000) / r.batch);
  }
  return samples;
}

/** Median microseconds per call of an async `fn` (awaited one after another). */
export const timeAsync = async (fn: () => Promise<unknown>, r: Repeat): Promise<number> => median(await samplesAsync(fn, r));

/** Forces a full GC when node runs with --expose-gc (the bench's child processes do). */
export const collect = (): void => (globalThis as { gc?: () => void }).gc?.();

export const CHILD_SCRIPT = join(packageRoot(), 'dist', 'host', 'bench', 'child.js');
export const BIN = join(packageRoot(), 'bin', 'pamwasm.js');

export interface ChildResult<T> {
  /** The child's last JSON line, when it printed one. */
  result?: T;
  status: number | null;
  signal: NodeJS.Signals | null;
  /** Every JSON line it printed (progress reports), in order. */
  lines: unknown[];
  stderr: string;
  wallMs: number;
}

/**
 * Runs one task of child.ts in a fresh node process and collects the JSON
 * lines it prints. A child that crashes (a SIGSEGV when the kernel refuses a
 * mapping, say) still gives back its progress lines.
 */
export function runChild<T>(task: string, args: unknown, options: { nodeArgs?: string[]; timeoutMs?: number } = {}): Promise<ChildResult<T>> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CHILD_SCRIPT, task, JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const lines: unknown[] = [];
      for (const l of out.split('\n')) {
        if (!l.startsWith('{')) continue;
        try { lines.push(JSON.parse(l)); } catch { /* a line cut by a crash */ }
      }
      const last = lines.at(-1) as { final?: boolean } | undefined;
      resolve({
        result: status === 0 && last?.final ? (last as T) : undefined,
        status, signal, lines, stderr: err, wallMs: performance.now() - t0,
      });
    });
  });
}

/** Wall milliseconds from spawning `argv` to its exit, as a shell would see it. */
export function timeProcess(argv: string[], env: NodeJS.ProcessEnv): { ms: number; status: number | null; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  return { ms: performance.now() - t0, status: r.status, stderr: r.stderr ?? '' };
}

function readOr(path: string, fallback: string): string {
  try { return readFileSync(path, 'utf8').trim(); } catch { return fallback; }
}

/** The system libpam's Debian package version, or "unknown". */
function libpamVersion(): string {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'libpam0g'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout ? r.stdout : 'unknown';
}

/** One line: CPU, cores, memory, kernel, node, libpam and the kernel's map limit. */
export function describeMachine(): string {
  const cpu = cpus();
  const model = (cpu[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
  const gib = (totalmem() / 2 ** 30).toFixed(0);
  return `${model}, ${cpu.length} CPUs, ${gib} GiB, Linux ${release()}, Node ${process.versions.node} (V8 ${process.versions.v8}), ` +
    `libpam ${libpamVersion()}, vm.max_map_count ${readOr('/proc/sys/vm/max_map_count', '?')}`;
}

export const loadAverage = (): number => loadavg()[0];

/**
 * Least-squares line through (depth, cost): the cost of one more line, and
 * how well a line explains the figures (R², 1 is a perfect line).
 */
export function linearFit(points: [number, number][]): { perLine: number; intercept: number; r2: number } {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  const perLine = sxx ? sxy / sxx : 0;
  const intercept = my - perLine * mx;
  const r2 = syy ? (sxy * sxy) / (sxx * syy) : 1;
  return { perLine, intercept, r2 };
}
