/**
 * Whole sessions, native and WASM, and how their cost grows with the
 * stack's depth.
 *
 * A session here is everything one login costs the stack: native
 * pam_start_confdir (reads the service file, dlopens the modules),
 * pam_open_session, pam_close_session, pam_end; pamwasm parses the stack
 * file, binds a StackSession (loads each line's module: a cache hit after the
 * first), opens (instantiates each line), closes and ends, with the default
 * sandbox. The `_handle` figures are open+close again on a handle or session
 * that already exists, which leaves out start-up and instantiation.
 *
 * The stack files are written first and measured once they are more than
 * 2 s old, as a deployed stack file is: pamwasm keeps a parse only of files
 * whose times have settled (host/stack/parse.ts), as libpam keeps none.
 */
import { expectSuccess, repeatLine, wasmSession, type BenchContext, NativePam } from './fixtures.js';
import { median, samplesAsync, samplesSync, timeAsync, timeSync, type Repeat } from './measure.js';

const DEPTHS = [1, 2, 4, 8, 16, 32];
const QUICK_DEPTHS = [1, 4, 32];
/** Turns each depth takes (the quick run: 2). */
const PASSES = 5;
/** Past the parse cache's 2 s rule for files just written. */
const SETTLE_MS = 2100;

export async function sessionGroup(ctx: BenchContext): Promise<void> {
  const { dir, results, quick } = ctx;
  const native = new NativePam(dir.dir);
  const nativeRepeat: Repeat = quick ? { batch: 10, batches: 9 } : { batch: 20, batches: 31 };
  const handleRepeat: Repeat = quick ? { batch: 50, batches: 9 } : { batch: 200, batches: 31 };
  try {
    const depths = quick ? QUICK_DEPTHS : DEPTHS;
    const files = new Map(depths.map((depth) => [depth, {
      service: dir.service(`depth-${depth}`, repeatLine('session required pam_permit.so', depth)),
      stack: dir.stack(`depth-${depth}`, repeatLine('session required pam_permit.wasm', depth)),
    }]));
    const service3 = dir.service('session3', repeatLine('session required pam_permit.so', 3));
    const stack3 = dir.stack('session3', repeatLine('session required pam_permit.wasm', 3));
    ctx.progress('sessions: letting the stack files settle (2 s)');
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    // V8 compiles hot wasm and JS again, optimized, on background threads
    // after a few hundred calls; measured before that, the first depths would
    // share two cores with the compiler.
    ctx.progress('sessions: warming up');
    const warm = files.get(depths.at(-1)!)!.stack;
    for (let i = 0; i < (quick ? 20 : 60); i++) {
      const s = await wasmSession(ctx.engine, warm);
      await s.open();
      await s.close();
      s.end();
    }
    // The depths take turns, pass after pass, and each figure is the median
    // of all its passes' samples: a burst of load on a shared machine then
    // lands on every depth alike instead of bending the line at one of them.
    const samples = new Map(depths.map((d) => [d, { native: [] as number[], wasm: [] as number[], nativeHandle: [] as number[], wasmHandle: [] as number[] }]));
    const passes = quick ? 2 : PASSES;
    // Per pass; the passes together take about as many samples as one run of the 3-line figures.
    const perPass = (r: Repeat): Repeat => ({ ...r, batches: Math.ceil(r.batches / passes) });
    for (let pass = 1; pass <= passes; pass++) {
      ctx.progress(`sessions: depths ${depths.join(', ')} (pass ${pass} of ${passes})`);
      for (const depth of depths) {
        const { service, stack } = files.get(depth)!;
        const into = samples.get(depth)!;
        into.native.push(...samplesSync(() => native.session(service), perPass(nativeRepeat)));
        const h = native.start(service);
        try {
          into.nativeHandle.push(...samplesSync(() => { native.open(h); native.close(h); }, perPass(handleRepeat)));
        } finally {
          native.end(h);
        }
        // Fewer samples as instantiation grows with the depth.
        const per = Math.max(1, Math.round((quick ? 8 : 24) / depth));
        into.wasm.push(...await samplesAsync(async () => {
          const s = await wasmSession(ctx.engine, stack);
          expectSuccess('open', await s.open());
          expectSuccess('close', await s.close());
          s.end();
        }, { batch: per, batches: quick ? 4 : 9, warmup: per * 2 }));
        const s = await wasmSession(ctx.engine, stack);
        try {
          into.wasmHandle.push(...await samplesAsync(async () => { await s.open(); await s.close(); }, perPass(handleRepeat)));
        } finally {
          s.end();
        }
      }
    }
    for (const [depth, m] of samples) {
      results[`depth.${depth}.native_us`] = median(m.native);
      results[`depth.${depth}.wasm_us`] = median(m.wasm);
      results[`depth.${depth}.native_handle_us`] = median(m.nativeHandle);
      results[`depth.${depth}.wasm_handle_us`] = median(m.wasmHandle);
    }
    // The 3-line figures, measured on their own (depth 3 is not a scaling row).
    ctx.progress('sessions: 3-line stack');
    const service = service3;
    const stack = stack3;
    results['session3.native_us'] = timeSync(() => native.session(service), nativeRepeat);
    results['session3.wasm_us'] = await timeAsync(async () => {
      const s = await wasmSession(ctx.engine, stack);
      expectSuccess('open', await s.open());
      expectSuccess('close', await s.close());
      s.end();
    }, quick ? { batch: 3, batches: 7 } : { batch: 8, batches: 31 });
    const h = native.start(service);
    try {
      results['session3_handle.native_us'] = timeSync(() => { native.open(h); native.close(h); }, handleRepeat);
    } finally {
      native.end(h);
    }
    const s = await wasmSession(ctx.engine, stack);
    try {
      results['session3_handle.wasm_us'] = await timeAsync(async () => { await s.open(); await s.close(); }, handleRepeat);
    } finally {
      s.end();
    }
  } finally {
    native.dispose();
  }
}
