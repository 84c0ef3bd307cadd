/**
 * pamwasm's performance targets (a row's `goal`), each judged on figures of
 * the same run (ratios are to the native baseline measured minutes apart on
 * the same machine), and the tables the bench prints. docs/performance.md
 * says why each target is what it is.
 */
import { linearFit } from './measure.js';

export type Results = Record<string, number>;

export interface Verdict {
  what: string;
  figure: string;
  baseline: string;
  ratio: string;
  goal: string;
  /** undefined: a figure was missing. */
  met?: boolean;
}

const fmt = (v: number | undefined, unit: string): string => {
  if (v === undefined || !Number.isFinite(v)) return '-';
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${unit}`;
};
const times = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : `${v >= 100 ? v.toFixed(0) : v.toFixed(2)}x`);
const has = (...vs: (number | undefined)[]) => vs.every((v) => v !== undefined && Number.isFinite(v));

export const DEPTH_KEYS = (r: Results): number[] =>
  [...new Set(Object.keys(r).map((k) => /^depth\.(\d+)\.wasm_us$/.exec(k)?.[1]).filter(Boolean).map(Number))].sort((a, b) => a - b);
export const CONCURRENT_KEYS = (r: Results): number[] =>
  [...new Set(Object.keys(r).map((k) => /^concurrent\.(\d+)\.opened$/.exec(k)?.[1]).filter(Boolean).map(Number))].sort((a, b) => a - b);

/** The compute kernels of kernels.ts, each timed metered and unmetered. */
const KERNEL_ROWS: [string, string][] = [
  ['loop', 'tight integer loop'],
  ['matmul', '300x300 f64 matrix multiply'],
  ['fib', 'recursive fib(30)'],
];

/** One row per performance target, plus the baselines they are judged against. */
export function verdicts(r: Results): Verdict[] {
  const out: Verdict[] = [];
  const row = (what: string, figure: string, baseline = '', ratio = '', goal = '', met?: boolean) =>
    out.push({ what, figure, baseline, ratio, goal, met });
  const ratioRow = (what: string, key: string, unit: string, base: string, limit: number, baseLabel = 'native') => {
    const v = r[key];
    const b = r[base];
    row(what, fmt(v, unit), `${fmt(b, unit)} ${baseLabel}`, times(v / b), `<= ${limit}x`, has(v, b) ? v / b <= limit : undefined);
  };
  const limitRow = (what: string, key: string, unit: string, limit: number) =>
    row(what, fmt(r[key], unit), '', '', `<= ${limit} ${unit}`, has(r[key]) ? r[key] <= limit : undefined);

  row('close: pam_permit.so via libpam (koffi, one handle)', fmt(r['close.native_permit_us'], 'us'), 'baseline');
  ratioRow('close: pam_permit.wasm in-process, no time limit', 'close.wasm_inprocess_us', 'us', 'close.native_permit_us', 1.0);
  ratioRow('close: pam_permit.wasm, full sandbox', 'close.wasm_sandboxed_us', 'us', 'close.native_permit_us', 2.0);
  {
    const v = r['close.pam_exec_us'];
    const b = r['close.wasm_sandboxed_us'];
    row('close: pam_exec.so /bin/true via libpam', fmt(v, 'us'), `${fmt(b, 'us')} sandboxed`, times(v / b), '>= 100x', has(v, b) ? v / b >= 100 : undefined);
  }
  row('session, 3 lines: start+open+close+end, native', fmt(r['session3.native_us'], 'us'), 'baseline');
  ratioRow('session, 3 lines: parse+bind+open+close+end, pamwasm', 'session3.wasm_us', 'us', 'session3.native_us', 1.5);
  ratioRow('  (open+close again on an open session, 3 lines)', 'session3_handle.wasm_us', 'us', 'session3_handle.native_us', 1.5);
  limitRow('cold load, C module (no disk cache)', 'cold.c_ms', 'ms', 20);
  limitRow('cold load, C module (disk cache)', 'cold.c_cached_ms', 'ms', 20);
  limitRow('cold load, JS module (no disk cache)', 'cold.js_ms', 'ms', 300);
  limitRow('cold load, JS module (disk cache)', 'cold.js_cached_ms', 'ms', 300);
  limitRow('warm instantiate, C module', 'warm_instantiate.c_ms', 'ms', 0.5);
  limitRow('RSS per open session, 3-line C stack', 'rss_per_session.c3_kib', 'KiB', 256);
  {
    const depths = DEPTH_KEYS(r);
    if (depths.length >= 2) {
      const fit = linearFit(depths.map((d) => [d, r[`depth.${d}.wasm_us`]]));
      const nat = linearFit(depths.map((d) => [d, r[`depth.${d}.native_us`]]));
      row(`cost per stack line, depth ${depths[0]}-${depths.at(-1)} (least squares)`, fmt(fit.perLine, 'us'), `${fmt(nat.perLine, 'us')} native`, times(fit.perLine / nat.perLine),
        'linear (R² >= 0.98)', fit.r2 >= 0.98);
      out.at(-1)!.figure += `, R² ${fit.r2.toFixed(3)}`;
    }
  }
  {
    const n = 10_000;
    const opened = r[`concurrent.${n}.opened`];
    if (opened !== undefined) {
      row(`${n} concurrent open sessions (--disable-wasm-trap-handler)`, r[`concurrent.${n}.holds`] ? 'hold' : `${opened} opened`, '', '', 'hold', Boolean(r[`concurrent.${n}.holds`]));
    }
    const d = r['concurrent_default.n'];
    if (d !== undefined) {
      const holds = Boolean(r['concurrent_default.holds']);
      const parked = r['concurrent_default.parked'];
      row(`${d} concurrent open sessions (node defaults)`, holds ? 'hold' : `${r['concurrent_default.opened']} opened`,
        parked === undefined ? '' : `${parked} lines parked`, '', `hold (${n})`, d >= n ? holds : holds ? undefined : false);
      if (r['memories_default.count'] !== undefined) out.at(-1)!.figure += `; ${r['memories_default.count']} memories fit`;
    }
  }
  ratioRow('pamwasm exec start-up, 1-line stack', 'exec.startup_ms', 'ms', 'exec.node_baseline_ms', 2.0, 'node -e 0');
  for (const [name, what] of KERNEL_ROWS) {
    ratioRow(`metering: ${what}`, `kernel.${name}.metered_ms`, 'ms', `kernel.${name}.plain_ms`, 1.5, 'unmetered');
  }
  // The floor rows: pam_wasm.so against a server that answers every hook
  // at once and runs nothing (answerd.c), the least any daemon can cost.
  const floorRow = (key: string, base: string, baseLabel: string) =>
    row('  (floor: a server that answers at once, runs nothing)', fmt(r[key], 'us'), `${fmt(r[base], 'us')} ${baseLabel}`, times(r[key] / r[base]));
  ratioRow('open+close through pam_wasm.so, 1-line C stack', 'daemon.shim1_oc_us', 'us', 'daemon.native1_oc_us', 5.0, 'pam_permit.so');
  floorRow('daemon.floor1_oc_us', 'daemon.native1_oc_us', 'pam_permit.so');
  ratioRow('whole session through pam_wasm.so, 3-line C stack', 'daemon.shim3_session_us', 'us', 'daemon.native3_session_us', 2.0, '3 native lines');
  floorRow('daemon.floor3_session_us', 'daemon.native3_session_us', '3 native lines');
  {
    const v = r['daemon.exec1_oc_us'];
    const b = r['daemon.shim1_oc_us'];
    row('open+close through pam_exec.so + pamwasm exec, 1 line', fmt(v / 1000, 'ms'), `${fmt(b, 'us')} pam_wasm.so`, times(v / b), '>= 250x', has(v, b) ? v / b >= 250 : undefined);
  }
  {
    const v = r['daemon.shim3_clients_per_s'];
    const b = r['daemon.native3_clients_per_s'];
    const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '-');
    row('throughput, 32 client processes, 3-line sessions', fmt(v, '/s'), `${fmt(b, '/s')} native`, pct(v / b), '>= 50%', has(v, b) ? v / b >= 0.5 : undefined);
    const f = r['daemon.floor3_clients_per_s'];
    row('  (floor: a server that answers at once, runs nothing)', fmt(f, '/s'), `${fmt(b, '/s')} native`, pct(f / b));
  }
  {
    const v = r['daemon.shim3_clients_p99_ms'];
    row('p99 session latency, 32 client processes', fmt(v, 'ms'), `${fmt(r['daemon.native3_clients_p99_ms'], 'ms')} native`, '', '<= 50 ms', has(v) ? v <= 50 : undefined);
  }
  row('  (daemon CPU time per session under that load)', fmt(r['daemon.cpu_per_session3_us'], 'us'));
  limitRow('daemon RSS per held session, 3-line C stack', 'daemon.rss_per_session.c3_kib', 'KiB', 96);
  row('daemon RSS per held session, JS module (12 MB)', fmt(r['daemon.rss_per_session.js_kib'], 'KiB'), '3686 KiB unparked', '', 'report');
  return out;
}

export function verdictTable(vs: Verdict[]): string[][] {
  return [
    ['measure', 'figure', 'baseline', 'ratio', 'goal', ''],
    ...vs.map((v) => [v.what, v.figure, v.baseline, v.ratio, v.goal, v.met === undefined ? (v.goal ? '?' : '') : v.met ? 'met' : 'MISSED']),
  ];
}

export function depthTable(r: Results): string[][] {
  return [
    ['depth', 'session native', 'session pamwasm', 'ratio', 'open+close native', 'open+close pamwasm', 'ratio'],
    ...DEPTH_KEYS(r).map((d) => {
      const [a, b, c, e] = ['native_us', 'wasm_us', 'native_handle_us', 'wasm_handle_us'].map((k) => r[`depth.${d}.${k}`]);
      return [String(d), fmt(a, 'us'), fmt(b, 'us'), times(b / a), fmt(c, 'us'), fmt(e, 'us'), times(e / c)];
    }),
  ];
}

export function concurrencyTable(r: Results): string[][] {
  return [
    ['open sessions', 'held', 'open', 'close', 'RSS', 'mappings'],
    ...CONCURRENT_KEYS(r).map((n) => [
      String(n),
      r[`concurrent.${n}.holds`] ? 'yes' : `no (${r[`concurrent.${n}.opened`]})`,
      fmt(r[`concurrent.${n}.open_us`], 'us'),
      fmt(r[`concurrent.${n}.close_us`], 'us'),
      fmt(r[`concurrent.${n}.kib_per_session`], 'KiB'),
      r[`concurrent.${n}.maps_per_session`] === undefined ? '-' : r[`concurrent.${n}.maps_per_session`].toFixed(2),
    ]),
  ];
}
