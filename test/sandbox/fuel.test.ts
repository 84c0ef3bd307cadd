/**
 * Fuel that tracks what guest code costs (host/sandbox/instrument/fuel.ts):
 *  - the fuel hostile modules (bulk memory and table instructions, memory
 *    growth, a loop with a huge body), each a component of the world on a
 *    stack line, fail closed with a `timeout` within their limit plus a
 *    margin, the process survives, and an optional hostile line followed by
 *    pam_permit still opens;
 *  - core modules of many loop shapes, through the real InstanceMeter, stop
 *    within their limit plus a margin (the overshoot is printed);
 *  - metered modules give the same results as unmetered ones, and burn fuel
 *    in proportion to what they run.
 *
 * Timing assertions use a generous margin (2 shared cores; CI stalls); the
 * figures are printed at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { faultOf, FUEL_EXPORT, INITIAL_FUEL, InstanceMeter, meterCoreModule, OUT_OF_FUEL, SANDBOX_MODULE, TimeLimitExceeded } from '../../host/sandbox/index.js';
import { MEMORY_SHIFT, TABLE_UNITS_SHIFT } from '../../host/sandbox/instrument/index.js';
import { GOOD_LINE, hostile, peakRssSince, TempStacks } from '../support/hostile.js';

const LIMIT_MS = 100;
const MARGIN_MS = 1500;
const GIB_KIB = 1024 * 1024;

let stacks: TempStacks;
const figures: string[] = [];

beforeAll(() => {
  stacks = new TempStacks();
});

afterAll(() => {
  stacks?.remove();
  console.log(`fuel figures:\n  ${figures.join('\n  ')}`);
});

const compile = async (wat: string) => new WebAssembly.Module((await parse(wat)) as Uint8Array<ArrayBuffer>);
const compileMetered = async (wat: string) =>
  new WebAssembly.Module(meterCoreModule(await parse(wat), { maxMemoryPages: 1024 }).bytes as Uint8Array<ArrayBuffer>);

describe('a hostile module that runs long instructions', () => {
  const FUEL_MODULES = ['loop_bulk_memory', 'loop_bulk_table', 'loop_memory_grow', 'loop_heavy_body'];

  it.each(FUEL_MODULES)('%s: its line times out within its limit, the process survives, and the next session succeeds', async (name) => {
    const rssBefore = process.resourceUsage().maxRSS;
    const r = await stacks.run(`session required [${hostile(name)} timeout=${LIMIT_MS}ms]\n${GOOD_LINE}\n`);
    figures.push(`${name.padEnd(17)} open-session timed out after ${r.openMs.toFixed(1)} ms (limit ${LIMIT_MS} ms, ${(r.openMs - LIMIT_MS).toFixed(1)} ms over)`);
    expect(r.open.name).toBe('PAM_SESSION_ERR');
    expect(r.open.trace[0]).toMatchObject({ line: 1, name: 'PAM_SESSION_ERR', fault: { kind: 'timeout' } });
    expect(r.openMs).toBeGreaterThanOrEqual(LIMIT_MS - 1);
    expect(r.openMs).toBeLessThan(LIMIT_MS + MARGIN_MS);
    expect(r.messages).toEqual(expect.arrayContaining(['open_session=success', 'close_session=success']));
    expect(peakRssSince(rssBefore)).toBeLessThan(GIB_KIB * 1024);
    await stacks.expectGoodSession();
  });

  it.each(FUEL_MODULES)('%s on an optional line before pam_permit: the session opens with PAM_SUCCESS', async (name) => {
    const r = await stacks.run(`session optional [${hostile(name)} timeout=${LIMIT_MS}ms]\nsession required pam_permit.wasm\n`);
    expect(r.open.name).toBe('PAM_SUCCESS');
    expect(r.open.trace[0]).toMatchObject({ control: 'optional', fault: { kind: 'timeout' } });
    expect(r.openMs).toBeLessThan(LIMIT_MS + MARGIN_MS);
  });
});

/** A loop that runs `body` forever, in a module with 1024 pages of memory and a 10,000-entry table. */
const forever = (body: string, extra = '') => `(module (memory 1024) (table $t 10000 funcref)
  (type $pick (func (param i32) (result i32)))
  (func $id (type $pick) (local.get 0))
  (elem (i32.const 0) $id)
  ${extra}
  (func (export "run") (result i32) (local $i i32) (local $a i32) (local $x i64)
    (local.set $x (i64.const 0x7fffffffffff))
    (loop $l ${body}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l))
    (local.get $a)))`;
const repeat = (n: number, s: string) => Array.from({ length: n }, () => s).join(' ');

/** Loop shapes, from the cheapest units to the dearest (see SLICE in limits.ts). */
const SHAPES: Record<string, string> = {
  'tight add': forever('(local.set $a (i32.add (local.get $a) (local.get $i)))'),
  'i64.div': forever('(local.set $x (i64.div_s (local.get $x) (i64.extend_i32_u (i32.or (local.get $i) (i32.const 1)))))'),
  'f64.sqrt chain': forever('(local.set $a (i32.trunc_f64_s (f64.sqrt (f64.convert_i32_u (i32.add (local.get $a) (local.get $i))))))'),
  call_indirect: forever('(local.set $a (call_indirect (type $pick) (local.get $i) (i32.const 0)))'),
  'br_table of 1000': forever(`(block $b (br_table ${repeat(1000, '$b')} $b (i32.and (local.get $i) (i32.const 1023))))`),
  'huge body': forever(repeat(500, '(local.set $x (i64.rem_u (i64.xor (local.get $x) (i64.const -1)) (i64.const 0x7fffffff)))')),
  'memory.copy 1 MiB': forever('(memory.copy (i32.const 0) (i32.const 1048576) (i32.const 1048576))'),
  'memory.fill 62 MiB': forever('(memory.fill (i32.const 0) (local.get $i) (i32.const 65011712))'),
  'table.fill 10,000': forever('(table.fill $t (i32.const 0) (ref.null func) (i32.const 10000))'),
  'table.copy 9,999': forever('(table.copy $t $t (i32.const 1) (i32.const 0) (i32.const 9999))'),
  'memory.grow': forever('(drop (memory.grow (i32.const 1)))'),
  // Each load depends on the last and lands on another page of 64 MiB: a
  // cache and TLB miss per iteration. `init` links the words into one cycle
  // (an LCG of full period, 2^24 words).
  'pointer chase 64 MiB': forever('(local.set $a (i32.load (local.get $a)))',
    `(func (export "init") (local $i i32) (loop $l
      (i32.store (i32.shl (local.get $i) (i32.const 2))
        (i32.shl (i32.and (i32.add (i32.mul (local.get $i) (i32.const 1664525)) (i32.const 1013904223)) (i32.const 0xffffff)) (i32.const 2)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 0x1000000)))))`),
  'recursion (fib 60)': `(module (func $fib (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2)) (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1))) (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
    (func (export "run") (result i32) (call $fib (i32.const 60))))`,
};

describe('guest code of any shape stops within its limit', () => {
  it.each(Object.keys(SHAPES))('%s: stopped by the InstanceMeter with a timeout, a few ms past its limit', async (name) => {
    const meter = new InstanceMeter();
    const exports = meter.instantiateCore(await compileMetered(SHAPES[name]), {}).exports as Record<string, () => number>;
    if (exports.init) {
      meter.arm(60_000);
      exports.init();
    }
    // Read before arming: a pause of this thread between the two (a busy
    // machine) then lengthens what is measured, never shortens it below the limit.
    const t0 = performance.now();
    meter.arm(LIMIT_MS);
    let error: unknown;
    try {
      exports.run();
    } catch (e) {
      error = meter.explain(e);
    }
    const ms = performance.now() - t0;
    figures.push(`${name.padEnd(22)} stopped after ${ms.toFixed(1)} ms (limit ${LIMIT_MS} ms, ${(ms - LIMIT_MS).toFixed(1)} ms over)`);
    expect(error).toBeInstanceOf(TimeLimitExceeded);
    expect(ms).toBeGreaterThanOrEqual(LIMIT_MS - 1);
    expect(ms).toBeLessThan(LIMIT_MS + MARGIN_MS);
  });
});

/**
 * A metered instance with its own host: the tank starts (and is refilled)
 * at `tank`, so that the fuel a call burns can be read off the global.
 */
async function burning(wat: string, imports: Record<string, Record<string, WebAssembly.ImportValue>> = {}, tank = 1 << 30) {
  const module = await compileMetered(wat);
  let fuel: WebAssembly.Global | undefined;
  let refills = 0;
  const instance = new WebAssembly.Instance(module, {
    ...imports,
    [SANDBOX_MODULE]: { [OUT_OF_FUEL]: () => { refills++; if (fuel) fuel.value = tank; } },
  });
  fuel = instance.exports[FUEL_EXPORT] as WebAssembly.Global;
  const exports = instance.exports as Record<string, any>;
  /** Calls `f` and returns what it burnt, and its result. */
  const burn = <T>(f: () => T): { burnt: number; result: T } => {
    fuel!.value = tank;
    refills = 0;
    const result = f();
    return { burnt: refills * tank + tank - (fuel!.value as number), result };
  };
  return { exports, burn, fuel };
}

const BULK = `(module (memory (export "memory") 2 64) (table $t 4 100 funcref) (func $f (result i32) (i32.const 7))
  (elem $e func $f $f $f) (data $d "0123456789abcdef")
  (func (export "fill") (param $n i32) (memory.fill (i32.const 0) (i32.const 0x41) (local.get $n)))
  (func (export "copy") (param $n i32) (memory.copy (i32.const 8) (i32.const 0) (local.get $n)))
  (func (export "init") (param $n i32) (memory.init $d (i32.const 100) (i32.const 0) (local.get $n)))
  (func (export "grow") (param $n i32) (result i32) (memory.grow (local.get $n)))
  (func (export "tgrow") (param $n i32) (result i32) (table.grow $t (ref.func $f) (local.get $n)))
  (func (export "tfill") (param $n i32) (table.fill $t (i32.const 0) (ref.func $f) (local.get $n)))
  (func (export "tcopy") (param $n i32) (table.copy $t $t (i32.const 1) (i32.const 0) (local.get $n)))
  (func (export "tinit") (param $n i32) (table.init $t $e (i32.const 0) (i32.const 0) (local.get $n)))
  (func (export "tsize") (result i32) (table.size $t))
  (func (export "tnull") (param $i i32) (result i32) (ref.is_null (table.get $t (local.get $i))))
  (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $s i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $s (i32.add (i32.mul (local.get $s) (i32.const 31)) (i32.load8_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $s)))`;

describe('a core start function', () => {
  // Metered as the loader meters: start code gets INITIAL_FUEL.
  const compileStarted = async (wat: string) =>
    new WebAssembly.Module(meterCoreModule(await parse(wat), { maxMemoryPages: 1024, initialFuel: INITIAL_FUEL }).bytes as Uint8Array<ArrayBuffer>);
  const started = (iterations: number) => `(module (global $n (mut i32) (i32.const 0))
    (func $start (local $i i32)
      (loop $l (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const ${iterations}))))
      (global.set $n (local.get $i)))
    (start $start)
    (func (export "n") (result i32) (global.get $n)))`;

  it('that runs past the fuel start code gets is a limit fault that says so, not a bare trap', async () => {
    for (const iterations of [10_000_000, 0x7fffffff]) {
      const meter = new InstanceMeter();
      meter.arm(LIMIT_MS);
      let error: unknown;
      try {
        meter.instantiateCore(await compileStarted(started(iterations)), {});
      } catch (e) {
        error = meter.explain(e);
      }
      const fault = faultOf(error);
      expect(fault.kind).toBe('limit');
      expect(fault.message).toMatch(/start function ran past the \d+ units of fuel that start code gets/);
    }
  });

  it('that stays within it makes its instance', async () => {
    const meter = new InstanceMeter();
    meter.arm(LIMIT_MS);
    const exports = meter.instantiateCore(await compileStarted(started(1000)), {}).exports as { n(): number };
    expect(exports.n()).toBe(1000);
  });
});

describe('metered bulk instructions', () => {
  it('give the same results as unmetered ones, traps included', async () => {
    const plain = new WebAssembly.Instance(await compile(BULK)).exports as Record<string, any>;
    const { exports: metered } = await burning(BULK);
    const steps: [string, number][] = [
      ['fill', 1000], ['copy', 500], ['init', 16], ['init', 17], ['grow', 3], ['grow', 100], ['fill', 300_000], ['copy', 1 << 30],
      ['tgrow', 10], ['tgrow', 1000], ['tfill', 5], ['tcopy', 13], ['tinit', 3], ['tinit', 4], ['tfill', -1], ['fill', -1],
    ];
    const outcome = (f: () => unknown) => { try { return f(); } catch (e) { return `${(e as Error).constructor.name}`; } };
    for (const [name, n] of steps) {
      const want = outcome(() => plain[name](n));
      expect(outcome(() => metered[name](n)), `${name}(${n})`).toEqual(want);
      expect(metered.sum(131072), `memory after ${name}(${n})`).toBe(plain.sum(131072));
      expect(metered.tsize()).toBe(plain.tsize());
      for (const i of [0, 1, 3]) expect(metered.tnull(i)).toBe(plain.tnull(i));
    }
  });

  it('burn fuel in proportion to their length', async () => {
    const { exports, burn } = await burning(BULK);
    const cost = (name: string, n: number) => burn(() => exports[name](n)).burnt;
    const mib = 1 << 20;
    exports.grow(40); // room for the copies below
    expect(cost('fill', mib) - cost('fill', 0)).toBe(mib >> MEMORY_SHIFT);
    expect(cost('copy', 2 * mib) - cost('copy', 0)).toBe((2 * mib) >> MEMORY_SHIFT);
    expect(cost('init', 16) - cost('init', 0)).toBe(16 >> MEMORY_SHIFT);
    expect(cost('grow', 8) - cost('grow', 0)).toBe(8 * (65536 >> MEMORY_SHIFT));
    expect(cost('tgrow', 50) - cost('tgrow', 0)).toBe(50 << TABLE_UNITS_SHIFT);
    expect(cost('tfill', 40) - cost('tfill', 0)).toBe(40 << TABLE_UNITS_SHIFT);
    // A length far past any table is charged a capped amount, never a refund.
    expect(cost('tgrow', -1)).toBeGreaterThan(1 << 29);
    figures.push(`memory.fill of 1 MiB burns ${cost('fill', mib)} units; table.fill of 40 entries ${cost('tfill', 40)}`);
  });
});

describe('metered loops and calls', () => {
  const LOOPS = (ops: number) => `(module (func (export "run") (param $n i32) (result i32) (local $i i32) (local $a i32)
    (loop $l
      ${repeat(ops, '(local.set $a (i32.xor (local.get $a) (local.get $i)))')}
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $a)))`;

  it('charge an iteration by the instructions of its body', async () => {
    const small = await burning(LOOPS(1));
    const big = await burning(LOOPS(50));
    const perIteration = (m: typeof small) => (m.burn(() => m.exports.run(2000)).burnt - m.burn(() => m.exports.run(1000)).burnt) / 1000;
    const one = perIteration(small);
    const fifty = perIteration(big);
    // Each `local.set (i32.xor (local.get) (local.get))` is four instructions.
    expect(fifty - one).toBe(49 * 4);
    expect(big.burn(() => big.exports.run(1000)).result).toBe(new WebAssembly.Instance(await compile(LOOPS(50))).exports.run(1000));
    figures.push(`a loop iteration burns ${one} units with 1 operation in its body, ${fifty} with 50`);
  });

  it('keep the fuel global exact whenever a host import runs: the counter is stored before each call', async () => {
    const seen: number[] = [];
    const m = await burning(`(module (import "host" "look" (func $look))
      (func (export "run") (param $n i32) (local $i i32)
        (loop $l (call $look) (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))))`,
    { host: { look: () => seen.push(m.fuel.value as number) } });
    const { burnt } = m.burn(() => m.exports.run(100));
    expect(seen).toHaveLength(100);
    const steps = new Set(seen.slice(1).map((v, i) => seen[i] - v));
    expect(steps.size).toBe(1); // the same iteration each time
    expect([...steps][0]).toBeGreaterThan(0);
    expect(burnt).toBeGreaterThan(seen[0] - seen[99]);
  });

  it("do not refund a callee's fuel to a caller that catches its exception", async () => {
    const m = await burning(`(module (tag $oops)
      (func $spend (param $n i32) (local $i i32)
        (loop $l (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (throw $oops))
      (func (export "run") (param $calls i32) (param $n i32) (local $k i32)
        (loop $again
          try
            (call $spend (local.get $n))
          catch_all
          end
          (br_if $again (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (local.get $calls))))))`);
    const once = m.burn(() => m.exports.run(1, 100_000)).burnt;
    const ten = m.burn(() => m.exports.run(10, 100_000)).burnt;
    expect(once).toBeGreaterThan(100_000);
    expect(ten).toBeGreaterThan(10 * 100_000);
  });
});
