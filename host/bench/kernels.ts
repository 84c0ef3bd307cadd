/**
 * What metering costs guest code: three compute kernels, written as core
 * modules in the text format, each instantiated twice in this process, once
 * as written and once metered (meter.ts) and wired to an InstanceMeter armed
 * with a limit it never reaches, as a session's module is. The figure is
 * metered / unmetered time of the same call:
 *  - loop: a tight integer loop (one multiply-add per iteration);
 *  - matmul: a 300x300 f64 matrix multiply (three nested loops);
 *  - fib: naive recursive fib(30) (a call per step, no loop).
 */
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { InstanceMeter, meterCoreModule } from '../sandbox/index.js';
import type { BenchContext } from './fixtures.js';
import { median } from './measure.js';

export const KERNELS: Record<string, { wat: string; arg: number }> = {
  loop: {
    arg: 20_000_000,
    wat: `(module (func (export "run") (param $n i32) (result i32) (local $i i32) (local $acc i32)
      (loop $l
        (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 31)) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
      (local.get $acc)))`,
  },
  matmul: {
    arg: 300,
    // A at 0, B at n*n*8, C at 2*n*n*8; A[i][j] = i + j, B[i][j] = i - j.
    wat: `(module (memory 40)
      (func (export "run") (param $n i32) (result i32) (local $i i32) (local $j i32) (local $k i32) (local $b i32) (local $c i32) (local $sum f64)
        (local.set $b (i32.mul (i32.mul (local.get $n) (local.get $n)) (i32.const 8)))
        (local.set $c (i32.shl (local.get $b) (i32.const 1)))
        (loop $fi
          (local.set $j (i32.const 0))
          (loop $fj
            (f64.store (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 3))
              (f64.convert_i32_s (i32.add (local.get $i) (local.get $j))))
            (f64.store (i32.add (local.get $b) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 3)))
              (f64.convert_i32_s (i32.sub (local.get $i) (local.get $j))))
            (br_if $fj (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $n))))
          (br_if $fi (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (local.set $i (i32.const 0))
        (loop $li
          (local.set $j (i32.const 0))
          (loop $lj
            (local.set $sum (f64.const 0))
            (local.set $k (i32.const 0))
            (loop $lk
              (local.set $sum (f64.add (local.get $sum) (f64.mul
                (f64.load (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $k)) (i32.const 3)))
                (f64.load (i32.add (local.get $b) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $n)) (local.get $j)) (i32.const 3)))))))
              (br_if $lk (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (local.get $n))))
            (f64.store (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 3))) (local.get $sum))
            (br_if $lj (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $n))))
          (br_if $li (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (i32.trunc_f64_s (f64.load (i32.add (local.get $c) (i32.const 8))))))`,
  },
  fib: {
    arg: 30,
    wat: `(module (func $fib (export "run") (param $n i32) (result i32)
      (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
        (then (local.get $n))
        (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1))) (call $fib (i32.sub (local.get $n) (i32.const 2))))))))`,
  },
};

type Run = (n: number) => number;

/** The kernel's `run`, as written and metered; the metered one through a meter armed for a minute. */
export async function kernelPair(name: string): Promise<{ plain: Run; metered: Run; meter: InstanceMeter }> {
  const bytes = await parse(KERNELS[name].wat);
  const plain = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>)).exports.run as Run;
  const meter = new InstanceMeter();
  const module = new WebAssembly.Module(meterCoreModule(bytes, { maxMemoryPages: 1024 }).bytes as Uint8Array<ArrayBuffer>);
  const metered = meter.instantiateCore(module, {}).exports.run as Run;
  return { plain, metered, meter };
}

/** Milliseconds per call, median of `rounds`, the two runs interleaved so a busy machine slows both alike. */
export function timeKernel(pair: { plain: Run; metered: Run; meter: InstanceMeter }, arg: number, rounds: number): { plainMs: number; meteredMs: number } {
  const plain: number[] = [];
  const metered: number[] = [];
  const expected = pair.plain(arg);
  pair.meter.arm(60_000);
  if (pair.metered(arg) !== expected) throw new Error('a kernel gave another result metered');
  for (let i = 0; i < rounds; i++) {
    let t0 = performance.now();
    pair.plain(arg);
    plain.push(performance.now() - t0);
    pair.meter.arm(60_000);
    t0 = performance.now();
    pair.metered(arg);
    metered.push(performance.now() - t0);
  }
  return { plainMs: median(plain), meteredMs: median(metered) };
}

export async function kernelGroup(ctx: BenchContext): Promise<void> {
  for (const name of Object.keys(KERNELS)) {
    ctx.progress(`kernels: ${name}`);
    const { plainMs, meteredMs } = timeKernel(await kernelPair(name), KERNELS[name].arg, ctx.quick ? 5 : 15);
    ctx.results[`kernel.${name}.plain_ms`] = plainMs;
    ctx.results[`kernel.${name}.metered_ms`] = meteredMs;
  }
}
