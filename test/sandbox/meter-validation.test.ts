/**
 * Every core module is judged before it is rewritten: V8 validates the
 * originals, the sandbox refuses threads, duplicate imports and resources
 * over its caps, and the meter on its own refuses malformed input rather
 * than repairing it. Each class has a module in the hostile corpus and
 * variants crafted here; each is checked on both load paths, metered and
 * not, and on a stack line (required: PAM_MODULE_UNKNOWN; optional before
 * pam_permit: PAM_SUCCESS).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { craftComponent } from '../../host/build/crafted.js';
import { loadComponent } from '../../host/loader/index.js';
import { componentCores } from '../../host/loader/validate.js';
import { checkCoreModule, meterCoreModule, parseModuleSpec } from '../../host/sandbox/index.js';
import { hostile, peakRssSince, TempStacks } from '../support/hostile.js';

const MARGIN_MS = 1500;
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'pamwasm.js');
const GIB = 1024 ** 3;
let stacks: TempStacks;
const figures: string[] = [];

beforeAll(() => { stacks = new TempStacks(); });
afterAll(() => {
  stacks?.remove();
  console.log(`meter validation figures:\n  ${figures.join('\n  ')}`);
});

const codeOf = async (input: string | Uint8Array, options: Parameters<typeof loadComponent>[1]): Promise<string | undefined> =>
  loadComponent(input, options).then(() => undefined, (e: { code?: string }) => e.code ?? String(e));

const LOAD_OPTIONS = [
  { name: 'fast path, metered', options: { meter: { maxMemoryPages: 16 } } },
  { name: 'jco path, metered', options: { meter: { maxMemoryPages: 16 }, fastPath: false } },
  { name: 'fast path, unmetered', options: {} },
  { name: 'jco path, unmetered', options: { fastPath: false } },
];

/** Loads `input` every way, expecting `code` from each. */
async function expectRefusedEveryWay(input: string | Uint8Array, code: string): Promise<void> {
  for (const { name, options } of LOAD_OPTIONS) expect(await codeOf(input, options), name).toBe(code);
}

/** A stack line of `path` refuses at load: required gives PAM_MODULE_UNKNOWN, optional before pam_permit PAM_SUCCESS. */
async function expectLineRefused(path: string, label: string): Promise<void> {
  // Growth, not the process's size: test files share processes, and an earlier one may have left it large.
  const before = process.memoryUsage().rss;
  const required = await stacks.run(`session required ${path}\nsession required pam_permit.wasm\n`);
  expect([required.open.name, required.close.name]).toEqual(['PAM_MODULE_UNKNOWN', 'PAM_MODULE_UNKNOWN']);
  expect(required.open.trace[0]).toMatchObject({ name: 'PAM_MODULE_UNKNOWN' });
  const optional = await stacks.run(`session optional ${path}\nsession required pam_permit.wasm\n`);
  expect([optional.open.name, optional.close.name]).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
  expect(optional.openMs).toBeLessThan(MARGIN_MS);
  const rss = process.memoryUsage().rss;
  expect(rss - before).toBeLessThan(GIB);
  figures.push(`${label}: refused at load, optional line's open ${optional.openMs.toFixed(1)} ms, rss ${(rss / 2 ** 20).toFixed(0)} MiB (${((rss - before) / 2 ** 20).toFixed(0)} MiB more)`);
}

/**
 * The session module `wat` is refused as too slow to compile (each of
 * `why` in the message) when metered, loads when not (no time limit to
 * hold), and its line fails closed.
 */
async function expectSlowCompileRefused(wat: string, label: string, ...why: RegExp[]): Promise<void> {
  const bytes = await craftComponent(wat, { shape: sessionModule('') }, label);
  for (const { name, options } of LOAD_OPTIONS) {
    const e = await loadComponent(bytes, options).then(() => undefined, (x: { code: string; message: string }) => x);
    if (!('meter' in options)) {
      expect(e, `${label}, ${name}`).toBeUndefined();
      continue;
    }
    expect(e?.code, `${label}, ${name}`).toBe('ERR_PAMWASM_RESOURCE_LIMIT');
    for (const w of why) expect(e?.message, `${label}, ${name}`).toMatch(w);
  }
  const path = join(stacks.dir, `${label.replace(/\W+/g, '_')}.wasm`);
  writeFileSync(path, bytes);
  await expectLineRefused(path, label);
}

const countCoreModules = (component: Uint8Array) => componentCores(component).modules.length;

/** A session module around `body` (open-session's instructions, returning a status) with `decls` beside the hooks. */
const sessionModule = (decls: string, body = '(i32.const 0)') => `(module
  (memory (export "memory") 1)
  ${decls}
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "open-session") (param i32 i32 i32) (result i32) ${body})
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))`;

describe('the hostile corpus of malformed, threaded and oversized modules', () => {
  const CASES = [
    { module: 'fuel_refill', code: 'ERR_PAMWASM_MALFORMED_WASM' },
    { module: 'type_past_end', code: 'ERR_PAMWASM_MALFORMED_WASM' },
    { module: 'trailing_bytes', code: 'ERR_PAMWASM_MALFORMED_WASM' },
    { module: 'memory_limits', code: 'ERR_PAMWASM_MALFORMED_WASM' },
    { module: 'duplicate_imports', code: 'ERR_PAMWASM_MALFORMED_WASM' },
    { module: 'atomic_wait', code: 'ERR_PAMWASM_UNSUPPORTED_WASM' },
    { module: 'table_bomb', code: 'ERR_PAMWASM_RESOURCE_LIMIT' },
  ];
  it.each(CASES.map((c) => [c.module, c.code]))('%s is refused at load with %s on both paths, metered or not, and its line fails closed', async (module, code) => {
    await expectRefusedEveryWay(hostile(module), code);
    await expectLineRefused(hostile(module), module);
  });
});

describe('through `pamwasm run`, in a process of its own', () => {
  it('atomic_wait (which blocked the thread forever) is refused at load: the optional line is skipped and the session succeeds at once', () => {
    const stack = join(stacks.dir, 'atomic.stack');
    writeFileSync(stack, `session optional [${hostile('atomic_wait')} timeout=100ms]\nsession required pam_permit.wasm\n`);
    const started = performance.now();
    const r = spawnSync(process.execPath, [BIN, 'run', '--stack', stack, '--service', 'login', '--user', 'alice', '--json'], { encoding: 'utf8', timeout: 60_000 });
    const ms = performance.now() - started;
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect([out.open.name, out.close.name]).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
    expect(out.trace[0]).toMatchObject({ line: 1, name: 'PAM_MODULE_UNKNOWN' });
    figures.push(`atomic_wait through pamwasm run: exit ${r.status} in ${ms.toFixed(0)} ms (process start included)`);
  });
});

describe('variants of each class, crafted here', () => {
  it('a core module over 1 MiB (validated by V8 while it is metered) gets the same verdicts as a small one', async () => {
    const bulk = `(data "${'x'.repeat(1024 * 1024)}")`;
    const valid = sessionModule(`(global $g (mut i32) (i32.const 0)) ${bulk}`, '(global.set $g (i32.const 1)) (i32.const 0)');
    const big = await craftComponent(valid);
    expect(big.length).toBeGreaterThan(1024 * 1024);
    for (const { name, options } of LOAD_OPTIONS.slice(0, 2)) expect(await codeOf(big, options), name).toBeUndefined();
    // One global past the last, as fuel_refill: V8's refusal, with its reason, wherever the load would have failed otherwise.
    const invalid = await craftComponent(valid.replace('(global.set $g', '(global.set 1'), { shape: valid }, 'big invalid');
    for (const { name, options } of LOAD_OPTIONS) {
      const e = await loadComponent(invalid, options).then(() => undefined, (x: { code: string; message: string }) => x);
      expect(e?.code, name).toBe('ERR_PAMWASM_MALFORMED_WASM');
      expect(e?.message, name).toMatch(/V8: .*global index/i);
    }
    const shared = await craftComponent(valid.replace('(memory (export "memory") 1)', '(memory (export "memory") 1 1 shared)'), { shape: valid }, 'big shared');
    await expectRefusedEveryWay(shared, 'ERR_PAMWASM_UNSUPPORTED_WASM');
  });

  it('a module over 64 MiB is refused before it is read or parsed, on both paths and as a stack line, naming its size', async () => {
    // A 300 MB custom section had taken the jco path 7 s and 1.4 GiB, the fast path 650 MiB.
    const small = await craftComponent(sessionModule(''));
    const custom = (payload: number) => {
      const size = 2 + payload; // name length, name "x", then the payload
      const leb: number[] = [];
      for (let n = size; ; n = Math.floor(n / 128)) { leb.push((n & 0x7f) | (n >= 128 ? 0x80 : 0)); if (n < 128) break; }
      const out = new Uint8Array(small.length + 1 + leb.length + size);
      out.set(small);
      out.set([0, ...leb, 1, 0x78], small.length);
      return out;
    };
    const over = custom(64 * 2 ** 20);
    const e = await loadComponent(over, LOAD_OPTIONS[0].options).then(() => undefined, (x: { code: string; message: string }) => x);
    expect(e?.message).toMatch(/^module <bytes> is 64 MiB, over the 64 MiB the sandbox loads/);
    await expectRefusedEveryWay(over, 'ERR_PAMWASM_RESOURCE_LIMIT');
    const path = join(stacks.dir, 'custom_64mib.wasm');
    writeFileSync(path, over);
    const before = process.resourceUsage().maxRSS;
    await expectLineRefused(path, 'a 64 MiB custom section');
    expect(peakRssSince(before)).toBeLessThan(GIB);
    const r = await stacks.run(`session required ${path}\n`);
    expect(r.diagnostics.join('\n')).toMatch(new RegExp(`module ${path} is 64 MiB, over the 64 MiB the sandbox loads`));
    // One byte fewer of the whole is no longer over the cap.
    expect(await codeOf(custom(64 * 2 ** 20 - small.length - 8), LOAD_OPTIONS[0].options)).toBeUndefined();
  });

  it('a shared memory is refused wherever it is: defined or imported, in the main or an extra core module', async () => {
    const plain = sessionModule('');
    const shapes = [
      await craftComponent(plain, { extra: '(module (import "env" "m" (memory 1 1 shared)))' }, 'extra imports a shared memory'),
      await craftComponent(sessionModule('').replace('(memory (export "memory") 1)', '(memory (export "memory") 1 1 shared)'), { shape: plain }, 'main shared'),
    ];
    for (const bytes of shapes) await expectRefusedEveryWay(bytes, 'ERR_PAMWASM_UNSUPPORTED_WASM');
  });

  it('atomic wait and notify are refused even on an unshared memory, naming the function and offset', async () => {
    for (const [op, instr] of [
      ['memory.atomic.notify', '(drop (memory.atomic.notify (i32.const 0) (i32.const 1)))'],
      ['memory.atomic.wait64', '(drop (memory.atomic.wait64 (i32.const 0) (i64.const 0) (i64.const 0)))'],
    ]) {
      const bytes = await craftComponent(sessionModule('', `${instr} (i32.const 0)`), { shape: sessionModule('') }, op);
      for (const { name, options } of LOAD_OPTIONS) {
        const e = await loadComponent(bytes, options).then(() => undefined, (x: { code: string; message: string }) => x);
        expect(e?.code, name).toBe('ERR_PAMWASM_UNSUPPORTED_WASM');
        expect(e?.message, name).toMatch(new RegExp(`core module .*function 1: ${op.replace(/\./g, '\\.')} at offset \\d+`));
      }
    }
  });

  it('tables: too many, one too large, or too large in all are refused at load', async () => {
    const tables = (n: number, min: number) => Array.from({ length: n }, () => `(table ${min} funcref)`).join(' ');
    for (const decls of [tables(9, 1), tables(1, 100_001), tables(3, 70_000)]) {
      await expectRefusedEveryWay(await craftComponent(sessionModule(decls)), 'ERR_PAMWASM_RESOURCE_LIMIT');
    }
    await expectRefusedEveryWay(await craftComponent(sessionModule(Array.from({ length: 10_001 }, () => '(global i32 (i32.const 0))').join(' '))), 'ERR_PAMWASM_RESOURCE_LIMIT');
  });

  it('8 tables of up to 10,000,000 entries, grown in open-session under memory=64KiB: every grow past the caps fails, the session succeeds promptly', async () => {
    const n = 8;
    const decls = Array.from({ length: n }, (_, i) => `(table $t${i} 1 10000000 funcref)`).join('\n');
    const grows = Array.from({ length: n }, (_, i) => `(br_if $bad (i32.ne (table.grow $t${i} (ref.null func) (i32.const 9999999)) (i32.const -1)))`).join('\n');
    // Table 0 may grow to its own cap (100,000), not one element more.
    const body = `(block $bad ${grows}
      (br_if $bad (i32.ne (table.grow $t0 (ref.null func) (i32.const 99999)) (i32.const 1)))
      (br_if $bad (i32.ne (table.grow $t0 (ref.null func) (i32.const 1)) (i32.const -1)))
      (return (i32.const 0))) (i32.const 14)`;
    const path = join(stacks.dir, 'table_bomb_8.wasm');
    writeFileSync(path, await craftComponent(sessionModule(decls, body)));
    const before = process.memoryUsage().rss;
    const r = await stacks.run(`session optional [${path} memory=64KiB timeout=200ms]\nsession required pam_permit.wasm\n`);
    expect(r.diagnostics).toEqual([]);
    expect(r.open.trace[0]).toMatchObject({ name: 'PAM_SUCCESS' });
    expect(r.open.name).toBe('PAM_SUCCESS');
    expect(r.openMs).toBeLessThan(200 + MARGIN_MS);
    const rss = process.memoryUsage().rss;
    expect(rss - before).toBeLessThan(GIB);
    figures.push(`8 tables grown under the caps: open ${r.openMs.toFixed(1)} ms, rss ${(rss / 2 ** 20).toFixed(0)} MiB (before ${(before / 2 ** 20).toFixed(0)} MiB)`);
  });

  it('a line\'s tables= cap refuses a table that starts above it and stops table.grow at it', async () => {
    expect(() => parseModuleSpec('m.wasm tables=0')).toThrow(/tables=0/);
    expect(() => parseModuleSpec('m.wasm tables=1000001')).toThrow(/tables=1000001/);
    expect(parseModuleSpec('m.wasm tables=1000').tableElements).toBe(1000);
    const big = join(stacks.dir, 'table_2000.wasm');
    writeFileSync(big, await craftComponent(sessionModule('(table 2000 funcref)')));
    const refused = await stacks.run(`session required [${big} tables=1000]\nsession required pam_permit.wasm\n`);
    expect(refused.open.name).toBe('PAM_MODULE_UNKNOWN');
    expect(await codeOf(big, { meter: { maxMemoryPages: 16, maxTableElements: 1000 } })).toBe('ERR_PAMWASM_RESOURCE_LIMIT');
    expect(await codeOf(big, { meter: { maxMemoryPages: 16 } })).toBeUndefined();
    // 999 more elements fit under tables=1000, the 1000th does not.
    const grows = join(stacks.dir, 'table_grow_1000.wasm');
    writeFileSync(grows, await craftComponent(sessionModule('(table $t 1 funcref)', `(block $bad
      (br_if $bad (i32.ne (table.grow $t (ref.null func) (i32.const 999)) (i32.const 1)))
      (br_if $bad (i32.ne (table.grow $t (ref.null func) (i32.const 1)) (i32.const -1)))
      (return (i32.const 0))) (i32.const 14)`)));
    const held = await stacks.run(`session required [${grows} tables=1000]\n`);
    expect(held.open.name).toBe('PAM_SUCCESS');
    const unheld = await stacks.run(`session required [${grows} tables=5000]\n`);
    expect(unheld.open.name).toBe('PAM_SESSION_ERR');
  });

  it('a component making more core instances than the cap is refused at load', async () => {
    const one = await craftComponent(sessionModule(''), { extra: '(module)' }, 'instances');
    // The extra module is the last core module; instantiate it 16 more times.
    const modules = countCoreModules(one);
    const section = [0x02, 4, 0x01, 0x00, modules - 1, 0x00];
    const many = Uint8Array.from([...one, ...Array.from({ length: 16 }, () => section).flat()]);
    expect(await codeOf(one, {})).toBeUndefined();
    await expectRefusedEveryWay(many, 'ERR_PAMWASM_RESOURCE_LIMIT');
  });

  it('a component that nests a component, instantiated many times, is refused at load on both paths', async () => {
    const one = await craftComponent(sessionModule(''), {}, 'nesting');
    const emptyModule = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    // A nested component making one core instance of an empty module; 20 instances of it make 20 core instances.
    const nested = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x01, emptyModule.length, ...emptyModule, 0x02, 4, 0x01, 0x00, 0x00, 0x00];
    const instances = [20, ...Array.from({ length: 20 }, () => [0x00, 0x00, 0x00]).flat()];
    const many = Uint8Array.from([...one, 0x04, nested.length, ...nested, 0x05, instances.length, ...instances]);
    expect(await codeOf(one, {})).toBeUndefined();
    await expectRefusedEveryWay(many, 'ERR_PAMWASM_UNSUPPORTED_WASM');
    // The nested component alone, never instantiated, is refused too: the cap is not counted through nesting.
    await expectRefusedEveryWay(Uint8Array.from([...one, 0x04, nested.length, ...nested]), 'ERR_PAMWASM_UNSUPPORTED_WASM');
  });

  it('struct and array types (GC), whose objects live outside the memory limit, are refused wherever they are declared', async () => {
    // A retained array of 64 MiB arrays, made in a loop: with GC on, the
    // engine's heap grows past any memory= limit until the process dies.
    const decls = '(type $a (array (mut i64))) (type $keep (array (mut (ref null $a)))) (global $g (mut (ref null $keep)) (ref.null $keep))';
    const body = `(local $i i32) (global.set $g (array.new_default $keep (i32.const 4096)))
      (loop $l (array.set $keep (global.get $g) (local.get $i) (array.new_default $a (i32.const 8388608)))
        (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const 4096))))
      (i32.const 0)`;
    const cores = {
      'array types, allocating': sessionModule(decls, body),
      'a struct in a rec group': '(module (rec (type (func)) (type (struct (field i32)))))',
      'an array subtype, declared only': '(module (type (func)) (type (sub (array i8))))',
    };
    const check = async (wat: string) => {
      const core = await parse(wat);
      return () => checkCoreModule(core, { where: 'm core module 0', scanCode: true });
    };
    for (const [label, wat] of Object.entries(cores)) {
      expect(await check(wat), label).toThrow(expect.objectContaining({
        code: 'ERR_PAMWASM_UNSUPPORTED_WASM', message: expect.stringMatching(/^m core module 0 defines type \d+ as a struct or array \(GC\)/),
      }));
    }
    // Function types alone, in rec groups and subtypes too, are what every module has.
    expect(await check('(module (rec (type (func)) (type (sub (func (param i32))))))')).not.toThrow();
    // Through the loader: the sandbox's own refusal on an engine with GC;
    // an engine without it (node 20) refuses the module as invalid first.
    const core = await parse(cores['array types, allocating']);
    const code = WebAssembly.validate(core) ? 'ERR_PAMWASM_UNSUPPORTED_WASM' : 'ERR_PAMWASM_MALFORMED_WASM';
    const bytes = await craftComponent(cores['array types, allocating'], { shape: sessionModule('') }, 'gc');
    await expectRefusedEveryWay(bytes, code);
    const path = join(stacks.dir, 'gc_alloc.wasm');
    writeFileSync(path, bytes);
    await expectLineRefused(path, 'GC arrays');
  });

  it('a function whose blocks nest deeper than 4,096, or whose code would take too long to compile, is refused at load when metered', async () => {
    // V8 compiles a function when it is first called, inside the call and
    // before its fuel code runs: 50,000 nested loops stalled their first call 330 ms under timeout=100ms.
    const nested = sessionModule('', `${'loop\n'.repeat(5000)}${'end\n'.repeat(5000)}(i32.const 0)`);
    const flat = sessionModule('', `${'(loop)\n'.repeat(5000)}(i32.const 0)`);
    for (const [label, wat, why] of [['nested', nested, /nested more than 4096 deep/], ['flat', flat, /5000 loops and 3 parameters and locals, \d+ units of compiling where at most 500000 are allowed/]] as const) {
      await expectSlowCompileRefused(wat, `slow compile, ${label}`, why);
    }
  });

  it('a function with too many locals for the meter to add its own is refused naming its locals, and one fewer loads', async () => {
    const withLocals = (n: number) => sessionModule(`(func (local ${'i32 '.repeat(n)}))`);
    const over = await craftComponent(withLocals(49_996), { shape: sessionModule('') }, 'locals');
    for (const { name, options } of LOAD_OPTIONS.filter((o) => 'meter' in o.options)) {
      const e = await loadComponent(over, options).then(() => undefined, (x: { code: string; message: string }) => x);
      expect(e?.code, name).toBe('ERR_PAMWASM_RESOURCE_LIMIT');
      expect(e?.message, name).toMatch(/function \d+: it has 49996 parameters and locals; the sandbox adds 5, and V8 allows 50000 in all/);
    }
    expect(await codeOf(await craftComponent(withLocals(49_995), { shape: sessionModule('') }, 'locals'), LOAD_OPTIONS[0].options)).toBeUndefined();
  });

  it('functions that each take long to compile, called once and returning at once, are stopped by the time limit between them', async () => {
    // 100 functions of 3,700 nested loops each (under the caps), which
    // return before their loops: compiling each stalls its first call tens
    // of milliseconds, seconds in all, and only what an entry is charged for
    // its compiling brings a clock check between two of them.
    const fns = Array.from({ length: 100 }, (_, i) => `(func $f${i} (param i32) (result i32) (if (local.get 0) (then (return (i32.const ${i})))) ${'loop '.repeat(3700)}${'end '.repeat(3700)} (i32.const 0))`).join('\n');
    const calls = Array.from({ length: 100 }, (_, i) => `(drop (call $f${i} (i32.const 1)))`).join(' ');
    const bytes = await craftComponent(sessionModule(fns, `${calls} (i32.const 0)`), { shape: sessionModule('') }, 'many slow compiles');
    const path = join(stacks.dir, 'many_slow_compiles.wasm');
    writeFileSync(path, bytes);
    const r = await stacks.run(`session optional [${path} timeout=100ms]\nsession required pam_permit.wasm\n`);
    figures.push(`100 functions of 3,700 nested loops, first calls under timeout=100ms: open ${r.openMs.toFixed(0)} ms, fault ${r.open.trace[0].fault?.kind}`);
    expect(r.open.trace[0]).toMatchObject({ name: 'PAM_SESSION_ERR', fault: { kind: 'timeout' } });
    expect(r.open.name).toBe('PAM_SUCCESS');
    expect(r.openMs).toBeLessThan(100 + 300);
  });

  it('a function whose frame (locals, or values held on its stack) times its control instructions would take too long to compile is refused at load when metered', async () => {
    // V8's baseline compiler walks every local and stack value at each loop,
    // block and branch: 40,000 locals (three bytes) and 3,000 empty loops
    // stalled a first call for 45 s; 20,000 constants held across 300 loops 280 ms.
    const cases = [
      ['locals', sessionModule('', `(local ${'i32 '.repeat(40_000)}) ${'(loop)\n'.repeat(3000)}(i32.const 0)`), /3000 loops and 40003 parameters and locals/],
      ['stack', sessionModule('', `${'(i64.const 1)\n'.repeat(20_000)}${'(loop)\n'.repeat(300)}${'(drop)\n'.repeat(20_000)}(i32.const 0)`), /300 loops and 3 parameters and locals/],
      ['ifs', sessionModule('', `(local ${'i32 '.repeat(40_000)}) ${'(if (local.get 0) (then (nop)) (else (nop)))\n'.repeat(1000)}(i32.const 0)`), /0 loops and 40003 parameters and locals/],
    ] as const;
    for (const [label, wat, why] of cases) {
      await expectSlowCompileRefused(wat, `slow compile for its frame, ${label}`, why, /fewer locals or fewer values held on its stack/);
    }
  });

  it('functions with many locals that each take long to compile, called once and returning at once, are stopped by the time limit between them', async () => {
    // 100 functions of 40,000 locals and 5 loops each (under the cap), which
    // return before their loops: compiling each stalls its first call 15 to
    // 35 ms, seconds in all, and only the charge for its frame brings a clock
    // check between two of them (without it, all 100 cost less than 2 slices).
    const fns = Array.from({ length: 100 }, (_, i) => `(func $f${i} (param i32) (result i32) (local ${'i32 '.repeat(40_000)}) (if (local.get 0) (then (return (i32.const ${i})))) ${'(loop)'.repeat(5)} (i32.const 0))`).join('\n');
    const calls = Array.from({ length: 100 }, (_, i) => `(drop (call $f${i} (i32.const 1)))`).join(' ');
    const bytes = await craftComponent(sessionModule(fns, `${calls} (i32.const 0)`), { shape: sessionModule('') }, 'many slow frames');
    const path = join(stacks.dir, 'many_slow_frames.wasm');
    writeFileSync(path, bytes);
    const r = await stacks.run(`session optional [${path} timeout=100ms]\nsession required pam_permit.wasm\n`);
    figures.push(`100 functions of 40,000 locals and 5 loops, first calls under timeout=100ms: open ${r.openMs.toFixed(0)} ms, fault ${r.open.trace[0].fault?.kind}`);
    expect(r.open.trace[0]).toMatchObject({ name: 'PAM_SESSION_ERR', fault: { kind: 'timeout' } });
    expect(r.open.name).toBe('PAM_SUCCESS');
    expect(r.openMs).toBeLessThan(100 + 300);
  });

  it('a core module importing one name twice is refused the same on both paths, also when the two imports differ in type', async () => {
    const withImports = (imports: string) => sessionModule('').replace('(module', `(module ${imports}`);
    const once = '(import "pamwasm:session/log@0.1.0" "syslog" (func (param i32 i32 i32)))';
    const bytes = await craftComponent(withImports(`${once} (import "pamwasm:session/log@0.1.0" "syslog" (func (param i32)))`), { shape: withImports(once) }, 'twice');
    await expectRefusedEveryWay(bytes, 'ERR_PAMWASM_MALFORMED_WASM');
  });
});

describe('the meter on its own refuses malformed input, never repairs it', () => {
  const meterCode = (bytes: Uint8Array) => {
    try {
      meterCoreModule(bytes, { maxMemoryPages: 16 });
      return undefined;
    } catch (e) {
      return (e as { code?: string }).code;
    }
  };
  const BASE = `(module
    (type $v (func))
    (import "m" "f" (func $imp (type $v)))
    (table 1 funcref)
    (memory 1)
    (global $g (mut i32) (i32.const 0))
    (export "g" (global $g))
    (start $s)
    (elem (i32.const 0) $s)
    (func $s (type $v) (data.drop 1))
    (data (i32.const 0) "x")
    (data "y"))`;

  /** `module` with `extra` bytes appended inside section `id` (its size grown to match). */
  function appendToSection(module: Uint8Array, id: number, extra: number[]): Uint8Array {
    const out: number[] = [...module.subarray(0, 8)];
    let pos = 8;
    let found = false;
    while (pos < module.length) {
      const sid = module[pos];
      let size = 0;
      let shift = 0;
      let p = pos + 1;
      let b: number;
      do { b = module[p++]; size += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
      const body = [...module.subarray(p, p + size)];
      if (sid === id) { body.push(...extra); found = true; }
      const len: number[] = [];
      let n = body.length;
      do { len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n = Math.floor(n / 128); } while (n);
      out.push(sid, ...len, ...body);
      pos = p + size;
    }
    expect(found, `section ${id} present`).toBe(true);
    return Uint8Array.from(out);
  }

  it('a trailing byte in any section is refused (type, import, function, table, memory, global, export, start, element, data count, code, data)', async () => {
    const base = await parse(BASE);
    expect(new WebAssembly.Module(base)).toBeInstanceOf(WebAssembly.Module);
    expect(meterCode(base)).toBeUndefined();
    for (const id of [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11]) {
      const bytes = appendToSection(base, id, [0x00]);
      expect(WebAssembly.validate(bytes), `section ${id}`).toBe(false);
      expect(meterCode(bytes), `section ${id}`).toBe('ERR_PAMWASM_MALFORMED_WASM');
    }
  });

  it('an index one past the end of its space is refused: global, type, function, table, memory, data, element', async () => {
    const bad = [
      '(module (global (mut i32) (i32.const 0)) (func (global.set 1 (i32.const 7))))',
      '(module (global (mut i32) (i32.const 0)) (func (drop (global.get 1))))',
      '(module (type (func)) (func (type 1)))',
      '(module (type (func)) (func (call_indirect (type 1) (i32.const 0))) (table 1 funcref))',
      '(module (func (call 1)))',
      '(module (func) (export "f" (func 1)))',
      '(module (func) (start 1))',
      '(module (func) (table 1 funcref) (elem (i32.const 0) func 1))',
      '(module (func) (table 1 funcref) (elem (table 1) (i32.const 0) func 0))',
      '(module (memory 1) (export "m" (memory 1)))',
      '(module (memory 1) (data (memory 1) (i32.const 0) "x"))',
      '(module (global i32 (i32.const 0)) (export "g" (global 1)))',
      '(module (global i32 (i32.const 0)) (global i32 (global.get 5)))',
      '(module (table 1 funcref) (func (drop (table.get 1 (i32.const 0)))))',
      '(module (table 1 funcref) (func (drop (table.grow 1 (ref.null func) (i32.const 1)))))',
      '(module (type (func)) (table 1 funcref) (func (call_indirect 1 (type 0) (i32.const 0))))',
      '(module (memory 1) (func (drop (memory.size 1))))',
      '(module (memory 1) (data "x") (func (data.drop 1)))',
      '(module (memory 1) (data "x") (func (memory.init 1 (i32.const 0) (i32.const 0) (i32.const 0))))',
      '(module (table 1 funcref) (elem func) (func (elem.drop 1)))',
      '(module (table 1 funcref) (elem func) (func (table.init 0 1 (i32.const 0) (i32.const 0) (i32.const 0))))',
    ];
    for (const text of bad) {
      const bytes = await parse(text);
      expect(WebAssembly.validate(bytes), text).toBe(false);
      expect(meterCode(bytes), text).toBe('ERR_PAMWASM_MALFORMED_WASM');
    }
  });

  it('memory limits: shared (0x02, 0x03) is refused as unsupported, a maximum above 65536 pages or below the minimum as malformed', async () => {
    const memory = (flags: number, ...limits: number[]) => Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 2 + limits.length * 3, 1, flags,
      ...limits.flatMap((n) => [(n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n >> 14])]);
    expect(meterCode(memory(0x01, 1, 65536))).toBeUndefined();
    expect(meterCode(memory(0x02, 1))).toBe('ERR_PAMWASM_UNSUPPORTED_WASM');
    expect(meterCode(memory(0x03, 1, 2))).toBe('ERR_PAMWASM_UNSUPPORTED_WASM');
    expect(meterCode(memory(0x01, 1, 65537))).toBe('ERR_PAMWASM_MALFORMED_WASM');
    expect(meterCode(memory(0x00, 65537))).toBe('ERR_PAMWASM_MALFORMED_WASM');
    expect(meterCode(memory(0x01, 3, 2))).toBe('ERR_PAMWASM_MALFORMED_WASM');
  });
});
