/**
 * The bench's child processes: what must run in a fresh process (a cold
 * load) or a process of its own (thousands of open sessions, node flags).
 *
 *   node dist/host/bench/child.js cold '{"path": "...", "cacheDir": "..."}'
 *   node --expose-gc --disable-wasm-trap-handler dist/host/bench/child.js concurrent '{"n": 1000, "stack": "..."}'
 *   node dist/host/bench/child.js memories '{"max": 40000}'
 *
 * Each prints JSON lines on stdout: progress, then one with `final: true`.
 */
import { readFileSync } from 'node:fs';
import { loadComponent } from '../loader/index.js';
import { hostImports, newHandleState, newLineContext } from '../runtime/index.js';
import { createEngine } from '../engine/index.js';
import { InstanceMeter, PAGE } from '../sandbox/index.js';
import { SANDBOX_DEFAULTS, StackSession } from '../stack/index.js';

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const collect = () => (globalThis as { gc?: () => void }).gc?.();
const mappings = () => readFileSync('/proc/self/maps', 'utf8').split('\n').length - 1;

/**
 * First load of one module in this process: read, check, transpile (or take
 * from the disk cache), meter, compile, and make one instance, as the first
 * session of a stack line does with the default sandbox.
 */
async function cold(args: { path: string; cacheDir?: string }): Promise<void> {
  const t0 = performance.now();
  const loaded = await loadComponent(args.path, {
    meter: { maxMemoryPages: SANDBOX_DEFAULTS.memoryBytes / PAGE },
    cache: args.cacheDir ? { dir: args.cacheDir, onWarning: (m) => process.stderr.write(`${m}\n`) } : undefined,
  });
  const meter = new InstanceMeter();
  meter.arm(SANDBOX_DEFAULTS.timeoutMs);
  loaded.instantiate(hostImports(newLineContext({ module: args.path, handle: newHandleState({ user: 'alice' }) })), meter.instantiateCore);
  say({ final: true, ms: performance.now() - t0 });
}

/**
 * Opens `n` sessions of one stack and keeps them all open, then closes them:
 * time per open and close, and what each open session holds (RSS after a
 * full GC, and memory mappings: the kernel's vm.max_map_count caps those).
 */
async function concurrent(args: { n: number; stack: string; memoryLimit?: number }): Promise<void> {
  const engine = createEngine(args.memoryLimit ? { memoryLimit: args.memoryLimit } : {});
  const stack = engine.parseStackFile(args.stack);
  const make = () => StackSession.create(stack, newHandleState({ service: 'bench', user: 'alice', tty: 'pts/0' }), { engine });
  const warm = await make();
  await warm.open();
  await warm.close();
  warm.end();
  collect();
  const rss0 = process.memoryUsage().rss;
  const maps0 = mappings();
  const sessions: StackSession[] = [];
  const every = Math.max(1, Math.floor(args.n / 20));
  let error: string | undefined;
  const t0 = performance.now();
  for (let i = 0; i < args.n; i++) {
    const s = await make();
    const r = await s.open();
    if (r.code !== 0) {
      error = `session ${i + 1} did not open: ${r.name} (${r.trace.map((t) => t.reason).filter(Boolean)[0] ?? 'no reason given'})`;
      s.end();
      break;
    }
    sessions.push(s);
    if ((i + 1) % every === 0) say({ opened: i + 1, ms: performance.now() - t0 });
  }
  const openMs = performance.now() - t0;
  collect();
  const rss = process.memoryUsage().rss - rss0;
  const maps = mappings() - maps0;
  const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
  const t1 = performance.now();
  let closeFailures = 0;
  for (const s of sessions) {
    if ((await s.close()).code !== 0) closeFailures++;
    s.end();
  }
  const closeMs = performance.now() - t1;
  const opened = sessions.length;
  say({
    final: true, n: args.n, opened, closeFailures, error, parked: engine.stats().parked, woken: engine.stats().woken,
    openUs: opened ? (openMs * 1000) / opened : 0,
    closeUs: opened ? (closeMs * 1000) / opened : 0,
    kibPerSession: opened ? rss / 1024 / opened : 0,
    mapsPerSession: opened ? maps / opened : 0,
    heapMiB,
  });
}

/**
 * How many wasm memories (2 pages, at most 64 MiB, as a metered C module's)
 * this process can hold at once, up to `max`: with node's default trap
 * handler each one reserves about 10 GiB of address space.
 */
async function memories(args: { max: number }): Promise<void> {
  const held: WebAssembly.Memory[] = [];
  let error: string | undefined;
  try {
    while (held.length < args.max) held.push(new WebAssembly.Memory({ initial: 2, maximum: SANDBOX_DEFAULTS.memoryBytes / PAGE }));
  } catch (e) {
    error = (e as Error).message;
  }
  say({ final: true, count: held.length, error });
}

const TASKS: Record<string, (args: never) => Promise<void>> = { cold, concurrent, memories };

const [task, json] = process.argv.slice(2);
const run = TASKS[task];
if (!run) {
  process.stderr.write(`bench child: unknown task ${task}\n`);
  process.exit(2);
}
await run(JSON.parse(json ?? '{}') as never);
