/**
 * Close-session cost, four ways, each called repeatedly on one handle or
 * one session (pam_close_session may be called again on a handle, and a
 * pamwasm session keeps its instances from open to close):
 *  - native pam_permit.so through libpam (koffi, this thread);
 *  - native pam_exec.so /bin/true (a fork and exec per call);
 *  - pam_permit.wasm in pamwasm without a time limit (not metered);
 *  - the same with the full sandbox (metered, time limit armed per call).
 */
import { expectSuccess, wasmSession, type BenchContext, NativePam } from './fixtures.js';
import { timeAsync, timeSync } from './measure.js';

export async function closeGroup(ctx: BenchContext): Promise<void> {
  const { dir, results, quick } = ctx;
  const permit = dir.service('close-permit', ['session required pam_permit.so']);
  const exec = dir.service('close-exec', ['session required pam_exec.so /bin/true']);
  const native = new NativePam(dir.dir);
  try {
    ctx.progress('close: native pam_permit');
    results['close.native_permit_us'] = onHandle(native, permit, (h) => timeSync(() => native.close(h), quick ? { batch: 200, batches: 15 } : { batch: 500, batches: 41 }));
    ctx.progress('close: native pam_exec /bin/true');
    try {
      results['close.pam_exec_us'] = onHandle(native, exec, (h) => timeSync(() => native.close(h), quick ? { batch: 2, batches: 5, warmup: 2 } : { batch: 5, batches: 15, warmup: 5 }));
    } catch (e) {
      ctx.notes['close.pam_exec_us'] = `failed: ${(e as Error).message}`; // e.g. no pam_exec.so here
    }
  } finally {
    native.dispose();
  }

  const stack = dir.stack('close-permit', ['session required pam_permit.wasm']);
  const repeat = quick ? { batch: 200, batches: 15 } : { batch: 500, batches: 41 };
  for (const [key, timeoutMs] of [['close.wasm_inprocess_us', 0], ['close.wasm_sandboxed_us', undefined]] as const) {
    ctx.progress(`close: ${key}`);
    const s = await wasmSession(ctx.engine, stack, timeoutMs === undefined ? {} : { sandbox: { timeoutMs } });
    try {
      expectSuccess('open', await s.open());
      expectSuccess('close', await s.close());
      results[key] = await timeAsync(() => s.close(), repeat);
    } finally {
      s.end();
    }
  }
}

/** Runs `measure` on an opened handle of `service`, then ends it. */
function onHandle(native: NativePam, service: string, measure: (h: bigint) => number): number {
  const h = native.start(service);
  try {
    native.open(h);
    return measure(h);
  } finally {
    native.end(h);
  }
}
