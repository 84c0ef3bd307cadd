import { describe, expect, it } from 'vitest';
import { parse, print } from '@bytecodealliance/jco-transpile/wasm-tools';
import { createEngine } from '../../host/engine/index.js';
import { INITIAL_FUEL, InstanceMeter, meterCoreModule, MemoryPool, ModuleImages, pooledMemoryLimits, type StoreShared } from '../../host/sandbox/index.js';
import { newHandleState } from '../../host/runtime/index.js';
import { parseStackFile, StackSession } from '../../host/stack/index.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Exports = Record<string, any>;

/** A module with `pages` of memory, a data segment "pam" at 16, and poke/peek/grow. */
const wat = (limits: string) => `(module
  (memory (export "memory") ${limits})
  (data (i32.const 16) "pam")
  (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`;

async function pooledModule(limits: string, cap: number): Promise<WebAssembly.Module> {
  const { bytes } = meterCoreModule(await parse(wat(limits)), { maxMemoryPages: cap, poolMemory: true, parkExports: true });
  return new WebAssembly.Module(bytes);
}

/** A store of a test's own: its meters share one pool, as an engine's do. */
const newStore = (): StoreShared => ({ pool: new MemoryPool(), images: new ModuleImages() });

function instance(meter: InstanceMeter, module: WebAssembly.Module): Exports {
  meter.arm(1000);
  return meter.instantiateCore(module, {}).exports as Exports;
}

describe('memories recycled between instances', () => {
  it('meters the one defined memory into an import with the same limits, capped', async () => {
    const { bytes } = meterCoreModule(await parse(wat('2 100')), { maxMemoryPages: 8, poolMemory: true, parkExports: true });
    const text = await print(bytes);
    expect(text).toMatch(/\(import "pamwasm:sandbox" "memory:2:8" \(memory \(;0;\) 2 8\)\)/);
    expect(text).not.toMatch(/^\s*\(memory /m);
    expect(text).toMatch(/\(export "memory" \(memory 0\)\)/);
    expect(pooledMemoryLimits('memory:2:8')).toEqual({ initial: 2, maximum: 8 });
    expect(pooledMemoryLimits('out-of-fuel')).toBeUndefined();
    // No maximum of its own: the cap is the maximum.
    expect(await print(meterCoreModule(await parse(wat('1')), { maxMemoryPages: 4, poolMemory: true, parkExports: true }).bytes)).toMatch(/"memory:1:4"/);
  });

  it('leaves alone what it cannot supply: an imported memory, no option, no cap; refuses a shared one', async () => {
    const imported = await parse('(module (import "env" "m" (memory 1)) (func (export "f")))');
    const shared = await parse('(module (memory 1 4 shared) (func (export "f")))');
    expect(() => meterCoreModule(shared, { maxMemoryPages: 4, poolMemory: true, parkExports: true })).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_UNSUPPORTED_WASM' }));
    for (const [bytes, options] of [
      [imported, { maxMemoryPages: 4, poolMemory: true, parkExports: true }],
      [await parse(wat('1')), { maxMemoryPages: 4 }],
      [await parse(wat('1')), { poolMemory: true, parkExports: true }],
    ] as const) {
      expect(await print(meterCoreModule(bytes, options).bytes)).not.toMatch(/"memory:/);
    }
    // A module that already imports from the sandbox's name is refused.
    const squatter = await parse('(module (import "pamwasm:sandbox" "x" (func)) (func (export "f")))');
    expect(() => meterCoreModule(squatter, {})).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_UNSUPPORTED_WASM' }));
  });

  it('exports mutable globals and says whether memory and globals are all the state code can change', async () => {
    const parkable = async (body: string) => meterCoreModule(await parse(`(module ${body})`), { maxMemoryPages: 4, poolMemory: true, parkExports: true });
    const plain = await parkable('(memory 1) (global $g (mut i32) (i32.const 5)) (global i64 (i64.const 1)) (func (export "f") (global.set $g (i32.const 6)))');
    expect(plain.parkable).toBe(true);
    const text = await print(plain.bytes);
    expect(text).toMatch(/\(export "pamwasm:global:0" \(global \$g\)\)/);
    expect(text).not.toMatch(/pamwasm:global:1/); // immutable
    expect(text).toMatch(/\(@custom "pamwasm:state" \(after code\) "\\01"\)/);
    for (const body of [
      '(memory 1) (table 1 funcref) (func (export "f") (table.set 0 (i32.const 0) (ref.null func)))',
      '(memory 1) (table 1 funcref) (func (export "f") (drop (table.grow 0 (ref.null func) (i32.const 1))))',
      '(memory 1) (data "x") (func (export "f") (data.drop 0))',
      '(memory 1) (table 1 funcref) (elem func) (func (export "f") (elem.drop 0))',
      '(memory 1) (global (mut v128) (v128.const i64x2 0 0)) (func (export "f"))',
      '(import "env" "g" (global (mut i32))) (memory 1) (func (export "f"))',
      '(import "env" "m" (memory 1)) (func (export "f"))',
    ]) {
      const r = await parkable(body);
      expect(r.parkable, body).toBe(false);
      expect(await print(r.bytes)).toMatch(/\(@custom "pamwasm:state" (\(after \w+\) )?"\\00"\)/);
    }
    // Without code: parkable when nothing but instantiation writes state.
    expect((await parkable('(table 1 funcref)')).parkable).toBe(true);
    expect((await parkable('(memory 1)')).parkable).toBe(false);
  });

  it('pools the memory and exports the state to park as two passes, each without the other', async () => {
    const body = '(memory 1) (global $g (mut i32) (i32.const 5)) (func (export "f") (global.set $g (i32.const 6)))';
    const module = await parse(`(module ${body})`);
    const pooledOnly = meterCoreModule(module, { maxMemoryPages: 4, poolMemory: true });
    const pooledText = await print(pooledOnly.bytes);
    expect(pooledText).toMatch(/"memory:1:4"/);
    expect(pooledText).not.toMatch(/pamwasm:global:|pamwasm:state/);
    expect(pooledOnly.parkable).toBeUndefined();

    const parkOnly = meterCoreModule(module, { maxMemoryPages: 4, parkExports: true });
    const parkText = await print(parkOnly.bytes);
    expect(parkText).not.toMatch(/"memory:/);
    expect(parkText).toMatch(/\(export "pamwasm:global:0" \(global \$g\)\)/);
    // Its memory is its own, not one the pool can copy: the instance cannot be parked.
    expect(parkOnly.parkable).toBe(false);
    expect(parkText).toMatch(/\(@custom "pamwasm:state" \(after code\) "\\00"\)/);
    // Without a memory the globals are all the state, cap or none.
    const noMemory = meterCoreModule(await parse('(module (global $g (mut i32) (i32.const 5)) (func (export "f") (global.set $g (i32.const 6))))'), { parkExports: true });
    expect(noMemory.parkable).toBe(true);
    for (const bytes of [pooledOnly.bytes, parkOnly.bytes, noMemory.bytes]) expect(WebAssembly.validate(bytes)).toBe(true);
  });

  it('gives a released memory to the next instance zeroed, with only its own data segment', async () => {
    const store = newStore();
    const module = await pooledModule('3', 7);
    const first = new InstanceMeter(store);
    const a = instance(first, module);
    expect(a.memory.buffer.byteLength).toBe(3 * 65536);
    expect([a.peek(16), a.peek(17), a.peek(18)]).toEqual([...Buffer.from('pam')]);
    for (const at of [0, 100, 65536 + 5, 3 * 65536 - 1]) a.poke(at, 0xab);
    a.poke(16, 0x58);
    const memory = a.memory as WebAssembly.Memory;
    const pooledBefore = store.pool.stats().memories;
    first.release();
    expect(store.pool.stats().memories).toBe(pooledBefore + 1);
    expect(new Uint8Array(memory.buffer).every((b) => b === 0)).toBe(true);

    const b = instance(new InstanceMeter(store), module);
    expect(b.memory).toBe(memory); // the same memory, recycled
    expect(store.pool.stats().memories).toBe(pooledBefore);
    const bytes = new Uint8Array(b.memory.buffer);
    expect(Buffer.from(bytes.subarray(16, 19)).toString()).toBe('pam');
    bytes.fill(0, 16, 19);
    expect(bytes.every((x) => x === 0)).toBe(true);
    // The cap holds on a recycled memory as on a fresh one.
    expect(b.grow(4)).toBe(3);
    expect(b.grow(1)).toBe(-1);
  });

  it('parks an instance as its memory pages and globals, and wakes it with both as they were', async () => {
    const store = newStore();
    const { bytes } = meterCoreModule(await parse(`(module
      (memory (export "memory") 2)
      (global $g (mut i32) (i32.const 7))
      (global $h (mut i64) (i64.const 1))
      (data (i32.const 16) "pam")
      (func (export "set") (param i32) (global.set $g (local.get 0)) (global.set $h (i64.const 0x100000000)))
      (func (export "get") (result i32) (global.get $g))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
      (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0))))`), { maxMemoryPages: 8, poolMemory: true, parkExports: true, initialFuel: INITIAL_FUEL });
    const module = new WebAssembly.Module(bytes);
    const meter = new InstanceMeter(store);
    const a = instance(meter, module);
    expect(meter.parkable).toBe(true);
    a.set(42);
    a.poke(16, 0x58); // over the data segment
    expect(a.grow(1)).toBe(2);
    a.poke(2 * 65536 + 3, 9); // in the page it grew
    const parked = meter.park();
    expect(parked.cores[0].globals).toEqual([['pamwasm:global:0', 42], ['pamwasm:global:1', 0x100000000n]]);
    expect(parked.cores[0].memory!.pages.map(([at]) => at)).toEqual([0, 2 * 65536]); // only pages holding something
    meter.wake(parked);
    const b = instance(meter, module);
    meter.woken();
    expect(b.get()).toBe(42);
    expect(b['pamwasm:global:1'].value).toBe(0x100000000n);
    expect(b.memory.buffer.byteLength).toBe(3 * 65536);
    expect([b.peek(16), b.peek(17), b.peek(2 * 65536 + 3)]).toEqual([0x58, 'a'.charCodeAt(0), 9]);
    // A woken instance with fewer core instances than were parked is refused.
    meter.release();
    meter.wake({ cores: [...parked.cores, parked.cores[0]] });
    instance(meter, module);
    expect(() => meter.woken()).toThrow(/2 core instances, its new one 1/);
  });

  it('takes back the memory of an instance whose start function trapped', async () => {
    const store = newStore();
    const module = await pooledModule('1 3', 3);
    const trapping = new WebAssembly.Module(meterCoreModule(await parse(`(module (memory (export "memory") 1 3)
      (data (i32.const 8) "x") (func $start unreachable) (start $start))`), { maxMemoryPages: 3, poolMemory: true, parkExports: true }).bytes);
    const meter = new InstanceMeter(store);
    meter.arm(1000);
    const before = store.pool.stats().memories;
    expect(() => meter.instantiateCore(trapping, {})).toThrow(WebAssembly.RuntimeError);
    meter.release();
    expect(store.pool.stats().memories).toBe(before + 1);
    // Zeroed: the data segment the failed instance wrote is gone.
    const next = instance(new InstanceMeter(store), module);
    expect(next.peek(8)).toBe(0);
  });

  it('never recycles a memory that grew, or one whose owner did not release it', async () => {
    const store = newStore();
    const module = await pooledModule('1', 5);
    const grower = new InstanceMeter(store);
    const g = instance(grower, module);
    expect(g.grow(1)).toBe(1);
    grower.release();
    const next = instance(new InstanceMeter(store), module);
    expect(next.memory).not.toBe(g.memory);
    expect(next.memory.buffer.byteLength).toBe(65536);

    const kept = instance(new InstanceMeter(store), module);
    const after = instance(new InstanceMeter(store), module);
    expect(after.memory).not.toBe(kept.memory);
  });

  it('sessions give their memories back at end, and a faulted line at its fault', async () => {
    const engine = createEngine();
    const dir = mkdtempSync(join(tmpdir(), 'pamwasm-pool-'));
    const stack = join(dir, 'pool.stack');
    writeFileSync(stack, 'session optional pam_permit.wasm\nsession optional pam_debug.wasm open_session=success\n');
    const handle = () => newHandleState({ service: 'pool', user: 'alice', tty: 'pts/1' });
    const s = await StackSession.create(parseStackFile(stack, { strictPermissions: false, engine }), handle(), { strictPermissions: false, engine });
    expect((await s.open()).name).toBe('PAM_SUCCESS');
    const before = engine.stats().pooledMemories;
    expect((await s.close()).name).toBe('PAM_SUCCESS');
    s.end();
    expect(engine.stats().pooledMemories).toBe(before + 2);
    // The next session runs on them, from a clean state.
    const t = await StackSession.create(parseStackFile(stack, { strictPermissions: false, engine }), handle(), { strictPermissions: false, engine });
    expect((await t.open()).name).toBe('PAM_SUCCESS');
    expect(engine.stats().pooledMemories).toBe(before);
    expect((await t.close()).name).toBe('PAM_SUCCESS');
    t.end();

    // Ended from the application's conversation while pam_echo's open runs:
    // that memory is still in use, so it must not reach the pool.
    const echo = join(dir, 'echo.stack');
    writeFileSync(echo, 'session optional pam_echo.wasm hello\nsession optional pam_permit.wasm\n');
    let v: StackSession | undefined;
    const inCall = engine.stats().pooledMemories;
    v = await StackSession.create(parseStackFile(echo, { strictPermissions: false, engine }), handle(), {
      strictPermissions: false, engine,
      conversation: { info: () => { v!.end(); return true; } },
    });
    const echoed = await v.open();
    expect(echoed.trace.map((e) => e.name)).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
    expect(v.messages.map((m) => m.text)).toEqual(['hello']);
    v.end();
    // pam_echo's memory was left to the collector; pam_permit's, made after the end, came back.
    expect(engine.stats().pooledMemories).toBe(inCall - 1);

    const trapping = join(dir, 'trap.stack');
    writeFileSync(trapping, `session optional ${join(process.cwd(), 'guest-modules/hostile/dist/trap.wasm')}\n`);
    const u = await StackSession.create(parseStackFile(trapping, { strictPermissions: false, engine }), handle(), { strictPermissions: false, engine });
    const pooled = engine.stats().pooledMemories;
    const open = await u.open();
    expect(open.trace[0].fault?.kind).toBe('trap');
    // It took one from the pool (an open session holds it, as `t` did) and gave it back at its fault.
    expect(engine.stats().pooledMemories).toBe(pooled);
    u.end();
    expect(engine.stats().pooledMemories).toBe(pooled);
  });
});
