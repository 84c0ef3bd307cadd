/**
 * What a module costs before any limit of a call applies: loading it (V8's
 * validation, the meter, the jco path's glue generator) and instantiating
 * it. The counts that drive those costs are capped per core module (types,
 * functions, imports, exports, element segments and their entries): one over
 * a cap is refused at load on both paths, metered or not, and one at the cap
 * loads and runs promptly. Below V8's own limits, 60 MiB of passive element
 * entries had held the jco path's load for 154 s, a million functions or
 * types for 17 s, and 5 million element segments 1.1 GiB of RSS.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { craftComponent } from '../../host/build/crafted.js';
import { loadComponent } from '../../host/loader/index.js';
import { skeletonOf } from '../../host/loader/skeleton.js';
import { COMPONENT_CAPS, componentCores } from '../../host/loader/validate.js';
import { CORE_CAPS } from '../../host/sandbox/index.js';
import { Reader, sectionHeaders } from '../../host/wasm/index.js';
import { peakRssSince, TempStacks } from '../support/hostile.js';

const LIMIT_MS = 100;
/** Generous, for two shared cores and the jco path's first load in the process; the figures show the real times. */
const LOAD_MS = 15_000;
const GIB = 1024 ** 3;
const figures: string[] = [];
let stacks: TempStacks;
beforeAll(() => { stacks = new TempStacks(); });
afterAll(() => {
  stacks?.remove();
  console.log(`load costs:\n  ${figures.join('\n  ')}`);
});

const LOADS = [
  { name: 'fast path, metered', options: { meter: { maxMemoryPages: 16 } } },
  { name: 'jco path, metered', options: { meter: { maxMemoryPages: 16 }, fastPath: false } },
  { name: 'fast path, unmetered', options: {} },
  { name: 'jco path, unmetered', options: { fastPath: false } },
];

const SESSION = `(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "open-session") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))`;

const times = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join(' ');

/** Each count: what it is called in the refusal, its cap, and an extra core module holding `n` of it. */
const COUNTS: { what: string; cap: number; module: (n: number) => string; runs: boolean }[] = [
  { what: 'types', cap: CORE_CAPS.types, module: (n) => `(module ${times(n, () => '(type (func (param i32)))')})`, runs: true },
  { what: 'functions', cap: CORE_CAPS.functions, module: (n) => `(module ${times(n, () => '(func)')})`, runs: true },
  // Imports nothing instantiates the extra module with: refused before that matters, so not run at the cap.
  { what: 'imports', cap: CORE_CAPS.imports, module: (n) => `(module ${times(n, (i) => `(import "m" "f${i}" (func))`)})`, runs: false },
  { what: 'exports', cap: CORE_CAPS.exports, module: (n) => `(module (func $f) ${times(n, (i) => `(export "e${i}" (func $f))`)})`, runs: true },
  { what: 'element segments', cap: CORE_CAPS.elementSegments, module: (n) => `(module ${times(n, () => '(elem func)')})`, runs: true },
  {
    what: 'element segment entries in all',
    cap: CORE_CAPS.elementEntries,
    module: (n) => {
      const per = CORE_CAPS.elementSegment;
      const full = Math.floor(n / per);
      const segment = (k: number) => `(elem func ${'$f '.repeat(k)})`;
      return `(module (func $f) ${times(full, () => segment(per))} ${n % per ? segment(n % per) : ''})`;
    },
    runs: true,
  },
];

describe('counts that cost load time are capped per core module', () => {
  it.each(COUNTS.map((c) => [c.what, c] as const))('one over the cap of %s is refused at load on both paths, metered or not, naming the count', async (what, c) => {
    const bytes = await craftComponent(SESSION, { extra: c.module(c.cap + 1) }, `${what} over the cap`);
    for (const { name, options } of LOADS) {
      const t = performance.now();
      const e = await loadComponent(bytes, options).then(() => undefined, (x: { code: string; message: string }) => x);
      const ms = performance.now() - t;
      expect(e?.code, name).toBe('ERR_PAMWASM_RESOURCE_LIMIT');
      expect(e?.message, name).toMatch(new RegExp(`core module 1 has ${c.cap + 1} ${what}, over the sandbox's cap of ${c.cap}`));
      if (name.endsWith('metered')) figures.push(`${what} ${c.cap + 1}, ${name}: refused in ${ms.toFixed(0)} ms`);
    }
  });

  it.each(COUNTS.filter((c) => c.runs).map((c) => [c.what, c] as const))('a module with as many %s as the cap loads on both paths and its line runs within its limit', async (what, c) => {
    const bytes = await craftComponent(SESSION, { extra: c.module(c.cap) }, `${what} at the cap`);
    const before = process.resourceUsage().maxRSS;
    for (const { name, options } of LOADS.slice(0, 2)) {
      const t = performance.now();
      const loaded = await loadComponent(bytes, options);
      const ms = performance.now() - t;
      figures.push(`${what} ${c.cap}, ${name}: loaded in ${ms.toFixed(0)} ms`);
      expect(ms, name).toBeLessThan(LOAD_MS);
      expect(loaded.coreModules).toHaveLength(2);
    }
    const path = join(stacks.dir, `${what.replace(/\W+/g, '_')}.wasm`);
    writeFileSync(path, bytes);
    const r = await stacks.run(`session required [${path} timeout=${LIMIT_MS}ms]\n`);
    expect(r.diagnostics).toEqual([]);
    expect([r.open.name, r.close.name]).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
    figures.push(`${what} ${c.cap}, stack line: open ${r.openMs.toFixed(1)} ms (instantiation included), close ${r.closeMs.toFixed(1)} ms`);
    // Loading, instantiating and calling are bounded together: well under the limit's margin.
    expect(r.openMs).toBeLessThan(LIMIT_MS + 1000);
    expect(peakRssSince(before)).toBeLessThan(GIB);
  });
});

describe("a component's own definitions are capped", () => {
  /** `component` with a section of `id` appended: definitions may come in any order and in several sections of a kind. */
  const withSection = (component: Uint8Array, id: number, contents: number[] | Uint8Array) =>
    Uint8Array.from([...component, id, ...uleb(contents.length), ...contents]);
  /** A type section of `n` definitions of u32. */
  const u32Types = (n: number) => [...uleb(n), ...new Array<number>(n).fill(0x79)];
  const typesOf = (c: Uint8Array) => componentCores(c).definitions.get(7) ?? 0;

  it('one type definition over the cap is refused at load on both paths, metered or not', async () => {
    const base = await craftComponent(SESSION, {}, 'types');
    const over = withSection(base, 7, u32Types(COMPONENT_CAPS.definitions + 1 - typesOf(base)));
    for (const { name, options } of LOADS) {
      const t = performance.now();
      const e = await loadComponent(over, options).then(() => undefined, (x: { code: string; message: string }) => x);
      figures.push(`${COMPONENT_CAPS.definitions + 1} component-level types, ${name}: refused in ${(performance.now() - t).toFixed(0)} ms`);
      expect(e?.code, name).toBe('ERR_PAMWASM_RESOURCE_LIMIT');
      expect(e?.message, name).toContain(`has ${COMPONENT_CAPS.definitions + 1} component-level type definitions, over the sandbox's cap of ${COMPONENT_CAPS.definitions}`);
    }
  });

  it('as many type definitions as the cap load on both paths, and the line runs', async () => {
    const base = await craftComponent(SESSION, {}, 'types');
    const at = withSection(base, 7, u32Types(COMPONENT_CAPS.definitions - typesOf(base)));
    for (const { name, options } of LOADS.slice(0, 2)) {
      const t = performance.now();
      const loaded = await loadComponent(at, options);
      figures.push(`${COMPONENT_CAPS.definitions} component-level types, ${name}: loaded in ${(performance.now() - t).toFixed(0)} ms`);
      expect([...loaded.exports].sort()).toEqual(['close-session', 'open-session']);
    }
    const path = join(stacks.dir, 'types-at-cap.wasm');
    writeFileSync(path, at);
    const r = await stacks.run(`session required [${path} timeout=${LIMIT_MS}ms]\n`);
    expect([r.open.name, r.close.name]).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
  });

  it('one record type of more than a mebibyte is refused at load on both paths', async () => {
    const base = await craftComponent(SESSION, {}, 'record');
    const fields: number[] = [];
    let n = 0;
    for (; fields.length <= COMPONENT_CAPS.bytes; n++) {
      const label = Buffer.from(`f${n}`);
      fields.push(label.length, ...label, 0x79);
    }
    const over = withSection(base, 7, [1, 0x72, ...uleb(n), ...fields]);
    expect(componentCores(over).definitions.get(7)).toBeLessThan(100);
    for (const { name, options } of LOADS) {
      const e = await loadComponent(over, options).then(() => undefined, (x: { code: string; message: string }) => x);
      expect(e?.code, name).toBe('ERR_PAMWASM_RESOURCE_LIMIT');
      expect(e?.message, name).toMatch(new RegExp(`has \\d+ bytes of component-level definitions .*over the sandbox's cap of ${COMPONENT_CAPS.bytes}`));
    }
  });
});

describe('vector instructions are charged what they cost to compile', () => {
  const SHUFFLE = '(local.set 0 (i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31 (local.get 0) (local.get 0)))';
  /** A session module whose open-session calls a function of `n` shuffles once. */
  const shuffles = (n: number) => SESSION
    .replace('(i32.const 0))\n  (func (export "close-session")', '(drop (call $f)) (i32.const 0))\n  (func (export "close-session")')
    .replace(/\)$/, ` (func $f (result i32) (local v128) ${SHUFFLE.repeat(n)} (i32x4.extract_lane 0 (local.get 0))))`);

  it('a function of 20,000 shuffles (about 60 ms of compiling in its first call) is refused at load when metered, on both paths', async () => {
    const bytes = await craftComponent(shuffles(20_000), {}, 'shuffles');
    for (const { name, options } of LOADS) {
      const e = await loadComponent(bytes, options).then(() => undefined, (x: { code: string; message: string }) => x);
      if (!('meter' in options)) {
        expect(e, name).toBeUndefined();
        continue;
      }
      expect(e?.code, name).toBe('ERR_PAMWASM_RESOURCE_LIMIT');
      expect(e?.message, name).toMatch(/20001 vector instructions/);
    }
  });

  it('one of 5,000 shuffles loads, and its first call, compiling included, ends well within a 100 ms limit', async () => {
    const path = join(stacks.dir, 'shuffles.wasm');
    writeFileSync(path, await craftComponent(shuffles(5_000), {}, 'shuffles'));
    const r = await stacks.run(`session required [${path} timeout=${LIMIT_MS}ms]\n`);
    figures.push(`5,000 shuffles in one function: open ${r.openMs.toFixed(1)} ms, first call compiling included`);
    expect(r.diagnostics).toEqual([]);
    expect(r.open.name).toBe('PAM_SUCCESS');
    expect(r.openMs).toBeLessThan(LIMIT_MS + 400);
  });
});

describe('the glue generator is given no core custom section', () => {
  it('a core module\'s custom sections (a name section, a 16 MiB payload) are left out of its hollow copy, which keeps only the skeleton\'s mark', async () => {
    const named = SESSION.replace('(module', '(module $named').replace('(func (export "open-session")', '(func $open (export "open-session")');
    const component = await craftComponent(named, {}, 'named');
    // A custom section of 16 MiB appended to the core module, as a custom section of the component's first module section.
    const core = componentCores(component).modules[0];
    const payload = 16 * 2 ** 20;
    const custom = Uint8Array.from([0, ...uleb(2 + payload), 1, 0x78]);
    const big = new Uint8Array(core.length + custom.length + payload);
    big.set(core);
    big.set(custom, core.length);
    const withCustom = replaceFirstCore(component, big);
    const { modules } = skeletonOf(withCustom);
    expect(modules).toHaveLength(1);
    expect(modules[0].original.length).toBeGreaterThan(payload);
    const customs = [...sectionHeaders(new Reader(modules[0].hollow, 8))].filter((s) => s.id === 0);
    expect(customs).toHaveLength(1);
    expect(modules[0].hollow.length).toBeLessThan(1024);
    // And the module still loads through the generator, its original bytes put back.
    const loaded = await loadComponent(withCustom, { fastPath: false, meter: { maxMemoryPages: 16 } });
    expect(loaded.via).toBe('jco');
    expect(loaded.coreModules[0].size).toBe(big.length);
  });
});

function uleb(n: number): number[] {
  const out: number[] = [];
  for (;; n = Math.floor(n / 128)) {
    out.push((n & 0x7f) | (n >= 128 ? 0x80 : 0));
    if (n < 128) return out;
  }
}

/** `component` with the contents of its first core module section replaced by `core`. */
function replaceFirstCore(component: Uint8Array, core: Uint8Array): Uint8Array {
  for (const s of sectionHeaders(new Reader(component, 8))) {
    if (s.id !== 1) continue;
    const header = Uint8Array.from([1, ...uleb(core.length)]);
    const out = new Uint8Array(s.headerStart + header.length + core.length + (component.length - s.end));
    out.set(component.subarray(0, s.headerStart));
    out.set(header, s.headerStart);
    out.set(core, s.headerStart + header.length);
    out.set(component.subarray(s.end), s.headerStart + header.length + core.length);
    return out;
  }
  throw new Error('no core module section');
}
