/**
 * `pamwasm bench` (and `npm run bench`): every figure of pamwasm's
 * performance targets measured in one run on one machine, side by side with
 * its native baseline, and judged against its target (goals.ts lists them;
 * docs/performance.md says why each is what it is).
 *
 * Groups, one file each: close.ts (one close-session call), session.ts
 * (whole sessions and stack depth), load.ts (cold and warm loads),
 * concurrency.ts (many open sessions), exec.ts (`pamwasm exec` start-up),
 * kernels.ts (metering's cost on compute kernels), daemon.ts (pam_wasm.so
 * and `pamwasm daemon` through libpam).
 * child.ts is what runs in the child processes; markdown.ts writes the
 * report into docs/performance.md.
 *
 * @example
 *   const { machine, results } = await runBench({ quick: true });
 *   results['close.native_permit_us']   // e.g. 11.2
 */
import { parseArgs } from 'node:util';
import { table } from '../cli/output.js';
import { usage } from '../cli/usage.js';
import { concurrencyTable, depthTable, verdicts, verdictTable, type Results } from './goals.js';
import { markdownReport, readPage, writeBetweenMarkers } from './markdown.js';
import { describeMachine, loadAverage } from './measure.js';
import { createEngine, type Engine } from '../engine/index.js';

export const BENCH_HELP = `Usage: pamwasm bench [--json | --markdown [--write <file>]] [--quick] [--group <name>]...

Measures, in one run on this machine, what a session costs under pamwasm
against native libpam (through koffi, on one handle), and judges each figure
against its goal, pamwasm's performance target for it (docs/performance.md):

  close-session   native pam_permit, pam_exec /bin/true, pam_permit.wasm
                  in-process and fully sandboxed
  sessions        a 3-line stack, native and WASM; stack depth 1 to 32
  loads           cold (a fresh process, with and without the disk cache)
                  and warm, of a C and of a JS module
  memory          RSS per open session; 1 to 10,000 sessions open at once
  exec            \`pamwasm exec\` start-up against \`node -e 0\`
  kernels         metering's cost on guest code: a tight loop, a 300x300
                  f64 matrix multiply and recursive fib, metered / unmetered
  daemon          pam_wasm.so with \`pamwasm daemon\` (root): open+close and
                  whole sessions through libpam against native pam_permit,
                  the pam_exec path, 32 client processes (throughput, p99),
                  the daemon's RSS per held C and JS session

Figures are medians over many iterations after a warm-up. The full run takes
about three minutes; run it on a quiet machine (see \`uptime\`).

Options:
  --json    print one JSON line last: {"machine": "...", "results": {...}}
            (keys such as close.native_permit_us; units in the key names)
  --markdown
            print the tables as Markdown, every measure with its figure,
            baseline, ratio, goal and whether it is met
  --write   with --markdown: also put the tables into <file> between its
            <!-- bench:start --> and <!-- bench:end --> lines, leaving the
            rest of the file as it is (docs/performance.md holds them)
  --quick   fewer iterations and rows, about half a minute: a smoke run,
            not figures to quote
  --group   run only these groups (repeatable; --only is the same): close,
            sessions, loads, memory, exec, kernels, daemon; ratios are to
            baselines of the same run`;

export interface BenchReport {
  /** CPU, memory, kernel, node, libpam and the load, in one line. */
  machine: string;
  /** Figures by key; units in the key names (_us, _ms, _kib). */
  results: Results;
  /** Why a figure is missing or what limited it. */
  notes: Record<string, string>;
  /** When the run started (ISO 8601). */
  started: string;
  /** The groups asked for; empty: all of them. */
  groups: string[];
  /** Whether it was a --quick run. */
  quick: boolean;
}

export const BENCH_GROUPS = ['close', 'sessions', 'loads', 'memory', 'exec', 'kernels', 'daemon'] as const;
export type BenchGroup = (typeof BENCH_GROUPS)[number];

export interface BenchOptions {
  quick?: boolean;
  /** Only these groups (by name); default all. */
  groups?: string[];
  /** Told what is being measured as the run goes. */
  onProgress?: (message: string) => void;
  /** The engine the in-process groups load and run sessions with. Default: one made for this run. */
  engine?: Engine;
}

/** Runs every group; a group that fails leaves a note and the others still run. */
export async function runBench(options: BenchOptions = {}): Promise<BenchReport> {
  const { BenchDir } = await import('./fixtures.js');
  const groups: [string, (ctx: import('./fixtures.js').BenchContext) => Promise<void>][] = [
    ['close', (await import('./close.js')).closeGroup],
    ['sessions', (await import('./session.js')).sessionGroup],
    ['loads', (await import('./load.js')).loadGroup],
    ['memory', (await import('./concurrency.js')).concurrencyGroup],
    ['exec', (await import('./exec.js')).execGroup],
    ['kernels', (await import('./kernels.js')).kernelGroup],
    ['daemon', (await import('./daemon.js')).daemonGroup],
  ];
  const unknown = options.groups?.filter((g) => !groups.some(([name]) => name === g)) ?? [];
  if (unknown.length) throw usage(`unknown bench group ${unknown.join(', ')}: the groups are ${groups.map(([n]) => n).join(', ')}`, 'bench');
  const startedAt = new Date().toISOString();
  const loadBefore = loadAverage();
  const machine = describeMachine();
  const dir = new BenchDir();
  const engine = options.engine ?? createEngine();
  const results: Results = {};
  const notes: Record<string, string> = {};
  const started = performance.now();
  const progress = (m: string) => options.onProgress?.(`${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s  ${m}`);
  try {
    for (const [name, run] of groups) {
      if (options.groups?.length && !options.groups.includes(name)) continue;
      try {
        await run({ quick: Boolean(options.quick), dir, results, notes, progress, engine });
      } catch (e) {
        notes[name] = `failed: ${(e as Error).message}`;
        progress(`${name}: failed: ${(e as Error).message}`);
      }
    }
  } finally {
    dir.remove();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    machine: `${machine} (1-min load ${loadBefore.toFixed(2)} at start, ${loadAverage().toFixed(2)} at end; ${seconds.toFixed(0)} s${options.quick ? ', --quick' : ''})`,
    results: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, round(v)])),
    notes,
    started: startedAt,
    groups: options.groups ?? [],
    quick: Boolean(options.quick),
  };
}

const round = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)) : v);

/** The report as the tables `pamwasm bench` prints. */
export function formatReport(report: BenchReport): string {
  const notes = Object.entries(report.notes).map(([k, v]) => `  ${k}: ${v}`);
  return [
    `Machine: ${report.machine}`,
    '',
    table(verdictTable(verdicts(report.results))),
    '',
    'Stack depth (pam_permit on every line; a session is start to end, as above):',
    table(depthTable(report.results)),
    '',
    'Sessions open at once (3-line C stack, node --disable-wasm-trap-handler; per session):',
    table(concurrencyTable(report.results)),
    ...(notes.length ? ['', 'Notes:', ...notes] : []),
  ].join('\n');
}

export async function benchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean' }, markdown: { type: 'boolean' }, write: { type: 'string' }, quick: { type: 'boolean' }, group: { type: 'string', multiple: true }, only: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(BENCH_HELP);
    return 0;
  }
  if (positionals.length) throw usage(`bench takes no arguments (got ${positionals.join(' ')})`, 'bench');
  const groups = [...(values.group ?? []), ...(values.only ?? [])];
  const unknown = groups.filter((g) => !(BENCH_GROUPS as readonly string[]).includes(g));
  if (unknown.length) throw usage(`bench --group (or --only) takes one of ${BENCH_GROUPS.join(', ')} (got ${unknown.join(', ')})`, 'bench');
  if (values.json && values.markdown) throw usage('bench takes --json or --markdown, not both', 'bench');
  if (values.write !== undefined && !values.markdown) throw usage('bench --write writes the --markdown tables: add --markdown', 'bench');
  // A page without its markers is refused before the run, not after minutes of it.
  if (values.write !== undefined) readPage(values.write);
  const report = await runBench({
    quick: values.quick,
    groups: groups.length ? groups : undefined,
    onProgress: (m) => process.stderr.write(`bench: ${m}\n`),
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ machine: report.machine, results: report.results, notes: report.notes })}\n`);
  } else if (values.markdown) {
    const text = markdownReport(report);
    if (values.write !== undefined) writeBetweenMarkers(values.write, text);
    process.stdout.write(`${text}\n`);
  } else {
    process.stdout.write(`${formatReport(report)}\n`);
  }
  // Missed targets are findings, not failures; a group that could not run is.
  return Object.keys(report.notes).some((k) => report.notes[k].startsWith('failed')) ? 1 : 0;
}
