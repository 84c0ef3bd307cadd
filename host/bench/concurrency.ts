/**
 * Many sessions open at once, each in a child process of its own: time per
 * open and close, RSS and memory mappings per open session, and whether
 * 10,000 of them hold.
 *
 * What limits the count is address space, not RAM. Every module instance has
 * its own linear memory, and V8 reserves about 10 GiB of address space for
 * each one when it bounds-checks wasm with guard pages (the trap handler,
 * node's default): 128 TiB of user space hold about 13,000 memories, about
 * 4,300 three-line sessions. `node --disable-wasm-trap-handler` reserves
 * only the memory's maximum (64 MiB under the default sandbox) and checks
 * bounds in code instead; then each memory costs two mappings, and the
 * kernel's vm.max_map_count (65,530 by default) caps a process at about
 * 30,000 memories. The rows run with that flag and the sandbox's memory
 * limit raised past that, so that every instance stays live. With node's defaults the sandbox parks idle instances once it holds
 * 10,000 memories (host/engine `parkIdleLines`): the 10,000-session target's row
 * opens 10,000 sessions that way (5,000 with --quick, still past what fits
 * unparked), and how many memories fit at all is counted in a child of its own.
 */
import { repeatLine, type BenchContext } from './fixtures.js';
import { runChild } from './measure.js';

const COUNTS = [1, 10, 100, 1000, 10_000];
const QUICK_COUNTS = [1, 10, 100];
export const SESSION_FLAGS = ['--expose-gc', '--disable-wasm-trap-handler'];
/** The rows' memory limit (the engine's memoryLimit): above 30,000 memories, so every instance stays live. */
const LIVE_LIMIT = 40_000;

interface Concurrent {
  n: number;
  parked: number;
  woken: number;
  opened: number;
  closeFailures: number;
  error?: string;
  openUs: number;
  closeUs: number;
  kibPerSession: number;
  mapsPerSession: number;
  heapMiB: number;
}

export async function concurrencyGroup(ctx: BenchContext): Promise<void> {
  const { results, notes, quick } = ctx;
  const stack = ctx.dir.stack('concurrent3', repeatLine('session required pam_permit.wasm', 3));
  const counts = quick ? QUICK_COUNTS : COUNTS;
  for (const n of counts) {
    ctx.progress(`concurrent: ${n} open 3-line sessions`);
    const r = await open(n, stack, SESSION_FLAGS, LIVE_LIMIT);
    results[`concurrent.${n}.opened`] = r.opened;
    results[`concurrent.${n}.holds`] = r.holds ? 1 : 0;
    if (r.stats) {
      results[`concurrent.${n}.open_us`] = r.stats.openUs;
      results[`concurrent.${n}.close_us`] = r.stats.closeUs;
      results[`concurrent.${n}.kib_per_session`] = r.stats.kibPerSession;
      results[`concurrent.${n}.maps_per_session`] = r.stats.mapsPerSession;
    }
    if (r.why) notes[`concurrent.${n}`] = r.why;
  }
  const rssRow = quick ? 100 : 1000;
  results['rss_per_session.c3_kib'] = results[`concurrent.${rssRow}.kib_per_session`];
  if (quick) notes['rss_per_session.c3_kib'] = 'over 100 open sessions (--quick)';
  const n = quick ? 5000 : 10_000;
  ctx.progress(`concurrent: ${n} open 3-line sessions with node's default flags (trap handler on: idle instances parked)`);
  const d = await open(n, stack, ['--expose-gc']);
  results['concurrent_default.n'] = n;
  results['concurrent_default.opened'] = d.opened;
  results['concurrent_default.holds'] = d.holds ? 1 : 0;
  if (d.stats) {
    results['concurrent_default.parked'] = d.stats.parked;
    results['concurrent_default.woken'] = d.stats.woken;
    results['concurrent_default.open_us'] = d.stats.openUs;
    results['concurrent_default.close_us'] = d.stats.closeUs;
    results['concurrent_default.kib_per_session'] = d.stats.kibPerSession;
  }
  if (d.why) notes['concurrent_default'] = d.why;
  // Each memory reserves ~10 GiB with node's defaults: how many fit at all.
  ctx.progress('concurrent: wasm memories one process holds with node\'s default flags (trap handler on)');
  const m = await runChild<{ final: true; count: number; error?: string }>('memories', { max: 40_000 }, { timeoutMs: 60_000 });
  if (m.result) {
    results['memories_default.count'] = m.result.count;
    if (m.result.error) notes['memories_default.count'] = `stopped by: ${m.result.error}`;
  }
}

async function open(n: number, stack: string, nodeArgs: string[], memoryLimit?: number): Promise<{ opened: number; holds: boolean; stats?: Concurrent; why?: string }> {
  const r = await runChild<Concurrent & { final: true }>('concurrent', { n, stack, memoryLimit }, { nodeArgs, timeoutMs: 240_000 });
  if (r.result) {
    const holds = r.result.opened === n && r.result.closeFailures === 0;
    const why = r.result.error ?? (r.result.closeFailures ? `${r.result.closeFailures} closes failed` : undefined);
    return { opened: r.result.opened, holds, stats: r.result, why };
  }
  const progress = r.lines.filter((l): l is { opened: number } => typeof (l as { opened?: unknown }).opened === 'number');
  const opened = progress.at(-1)?.opened ?? 0;
  const how = r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  const last = r.stderr.trim().split('\n').filter(Boolean).at(-1);
  return { opened, holds: false, why: `the process died (${how}) after at least ${opened} sessions opened${last ? `: ${last.slice(0, 200)}` : ''}` };
}
