/**
 * pamload.c, built for the bench and run: many client processes running
 * whole libpam sessions at once (throughput and latency under load).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../wit/index.js';

export interface LoadResult {
  sessions: number;
  failures: number;
  wallUs: number;
  p50Us: number;
  p99Us: number;
}

/** Compiles the bench's C program `host/bench/<name>.c` into `dir` with `flags` (libraries last); returns the program's path. */
export function buildBenchProgram(dir: string, name: string, flags: string[]): string {
  const out = join(dir, name);
  execFileSync('gcc', ['-std=gnu99', '-Wall', '-Wextra', '-Werror', '-O2', '-o', out, join(packageRoot(), 'host', 'bench', `${name}.c`), ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

/** Compiles pamload.c into `dir`; returns the program's path. */
export const buildPamload = (dir: string): string => buildBenchProgram(dir, 'pamload', ['-lpam']);

/** `procs` processes, `each` whole sessions each, on `service` of `confdir`. */
export function runPamload(program: string, confdir: string, service: string, procs: number, each: number): LoadResult {
  const r = spawnSync(program, [confdir, service, String(procs), String(each)], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`pamload ${service} failed (${r.signal ?? `exit ${r.status}`}): ${r.stderr.trim()}`);
  const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as LoadResult;
  if (result.failures) throw new Error(`pamload ${service}: ${result.failures} of ${result.sessions} sessions failed`);
  return result;
}

/** Sessions per second of a run. */
export const perSecond = (r: LoadResult): number => r.sessions / (r.wallUs / 1e6);
