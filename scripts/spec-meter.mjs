#!/usr/bin/env node
/**
 * Runs the WebAssembly spec test suite through the sandbox's judgement of
 * core modules and its meter, and reports:
 *  - every assert_invalid / assert_malformed binary module: whether the
 *    load pipeline (V8's validation, then the sandbox's checks, then the
 *    meter) refuses it, which it must; and whether the meter on its own
 *    (no validation first) refuses it or at least never turns it valid;
 *  - every valid module: whether the sandbox's own rules refuse it (threads,
 *    duplicate imports, caps: listed, not failures), and otherwise whether
 *    its metered form validates;
 *  - every assert_return / assert_trap / assert_exhaustion /
 *    assert_uninstantiable run against the metered modules, with a small
 *    fuel slice so that the out-of-fuel path runs often: where metering
 *    changes the outcome.
 *
 * Usage (the suite is not part of this repository; build pamwasm first):
 *   git clone https://github.com/WebAssembly/testsuite && git -C testsuite checkout 3a04b2c
 *   node scripts/spec-meter.mjs testsuite [--verbose]
 *
 * Needs `wast2json` (Debian's wabt) on the PATH. Exits 1 when the property
 * fails: an invalid module accepted, or a valid one metered into an invalid one.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const { meterCoreModule, FUEL_EXPORT, SANDBOX_MODULE, OUT_OF_FUEL } = await import(join(root, 'dist/host/sandbox/instrument/index.js'));
const { checkCoreModule } = await import(join(root, 'dist/host/sandbox/instrument/index.js'));

const [suite, ...flags] = process.argv.slice(2);
if (!suite) {
  console.error('usage: node scripts/spec-meter.mjs <path to WebAssembly/testsuite> [--verbose]');
  process.exit(2);
}
const verbose = flags.includes('--verbose');
const SLICE = 1000;

const count = {
  files: 0, unconverted: 0,
  invalid: 0, invalidAccepted: 0, invalidMeterAloneValid: 0, invalidMeterAloneRefused: 0,
  valid: 0, validRefusedBySandbox: 0, meteredInvalid: 0,
  assertions: 0, passed: 0, changed: 0, skipped: 0,
};
const refusedBySandbox = new Map();
const problems = [];
const note = (kind, where, detail) => {
  problems.push(`${kind}: ${where}${detail ? ` (${detail})` : ''}`);
};

/** Whether the load pipeline accepts `bytes`: V8, then the sandbox's checks, then the meter, then V8 again. */
function pipeline(bytes) {
  if (!WebAssembly.validate(bytes)) return { ok: false, why: 'V8' };
  try {
    checkCoreModule(bytes, { where: 'module', scanCode: false });
    const metered = meterCoreModule(bytes, { initialFuel: 0x7fffffff });
    return WebAssembly.validate(metered.bytes) ? { ok: true, metered } : { ok: false, why: 'metered invalid', meterBug: true };
  } catch (e) {
    return { ok: false, why: e.code ?? String(e), sandbox: true, message: e.message };
  }
}

/** The meter alone, with no validation first: 'refused', 'invalid' (output refused by V8) or 'valid'. */
function meterAlone(bytes) {
  try {
    return WebAssembly.validate(meterCoreModule(bytes, {}).bytes) ? 'valid' : 'invalid';
  } catch {
    return 'refused';
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
const externs = new Map();
const extern = (n) => { if (!externs.has(n)) externs.set(n, { extern: n }); return externs.get(n); };

function toJs(v) {
  switch (v.type) {
    case 'i32': return Number(BigInt.asIntN(32, BigInt(v.value)));
    case 'i64': return BigInt.asIntN(64, BigInt(v.value));
    case 'f32': u32[0] = Number(v.value); return f32[0];
    case 'f64': u64[0] = BigInt(v.value); return f64[0];
    case 'externref': return v.value === 'null' ? null : extern(v.value);
    case 'funcref': return null;
    default: throw new Skip(`argument of type ${v.type}`);
  }
}

function matches(expected, got) {
  const v = expected.value;
  switch (expected.type) {
    case 'i32': return (got | 0) === Number(BigInt.asIntN(32, BigInt(v)));
    case 'i64': return typeof got === 'bigint' && BigInt.asIntN(64, got) === BigInt.asIntN(64, BigInt(v));
    case 'f32':
      if (String(v).startsWith('nan')) return Number.isNaN(got);
      f32[0] = got;
      return u32[0] === Number(v) || (Number.isNaN(got) && Number.isNaN(toJs(expected)));
    case 'f64':
      if (String(v).startsWith('nan')) return Number.isNaN(got);
      return Object.is(got, toJs(expected)) || (Number.isNaN(got) && Number.isNaN(toJs(expected)));
    case 'externref': return v === 'null' ? got === null : got === extern(v);
    case 'funcref': return v === 'null' ? got === null : typeof got === 'function';
    default: throw new Skip(`result of type ${expected.type}`);
  }
}

class Skip extends Error {}

function spectest() {
  const print = () => {};
  return {
    print, print_i32: print, print_i64: print, print_f32: print, print_f64: print, print_i32_f32: print, print_f64_f64: print,
    global_i32: 666, global_i64: 666n, global_f32: 666.6, global_f64: 666.6,
    table: new WebAssembly.Table({ initial: 10, maximum: 20, element: 'anyfunc' }),
    memory: new WebAssembly.Memory({ initial: 1, maximum: 2 }),
  };
}

/**
 * Instantiates a module, metered (its out-of-fuel refills a small slice,
 * so the slow path runs too) or, for comparison, as it is.
 */
function instantiate(bytes, registry) {
  let tank;
  const sandbox = { [OUT_OF_FUEL]: () => { if (tank) tank.value = SLICE; } };
  const module = new WebAssembly.Module(bytes);
  const imports = { spectest: spectest(), ...registry, [SANDBOX_MODULE]: sandbox };
  const instance = new WebAssembly.Instance(module, imports);
  tank = instance.exports[FUEL_EXPORT];
  if (tank) tank.value = SLICE;
  return instance;
}

function runFile(file, dir) {
  const json = join(dir, 'x.json');
  try {
    execFileSync('wast2json', [file, '-o', json], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch {
    count.unconverted++;
    return;
  }
  count.files++;
  const { commands } = JSON.parse(readFileSync(json, 'utf8'));
  // Each module twice, metered (m) and as it is (o), linked to its own kind:
  // an outcome that differs from the expected one in both is the harness's
  // (NaN payloads do not survive JS numbers), not the meter's.
  const named = new Map();
  const registry = { m: {}, o: {} };
  let current;
  const where = (c) => `${file.split('/').pop()}:${c.line}`;
  const load = (c) => readFileSync(join(dir, c.filename));
  const invoke = (c, kind = 'm') => {
    const a = c.action;
    const inst = (a.module ? named.get(a.module) : current)?.[kind];
    if (!inst) throw new Skip('no module');
    if (a.type === 'get') return [inst.exports[a.field].value];
    const r = inst.exports[a.field](...a.args.map(toJs));
    return r === undefined ? [] : Array.isArray(r) ? r : [r];
  };
  for (const c of commands) {
    try {
      switch (c.type) {
        case 'module': {
          current = undefined;
          const bytes = load(c);
          count.valid++;
          const p = pipeline(bytes);
          if (!p.ok) {
            if (p.meterBug) { count.meteredInvalid++; note('valid module metered into an invalid one', where(c)); }
            else if (p.sandbox) { count.validRefusedBySandbox++; refusedBySandbox.set(p.why, (refusedBySandbox.get(p.why) ?? 0) + 1); if (verbose) note('refused by the sandbox', where(c), p.message); }
            break;
          }
          try {
            current = { m: instantiate(p.metered.bytes, registry.m), o: instantiate(bytes, registry.o) };
          } catch (e) {
            note('valid module failed to instantiate metered', where(c), e.message);
          }
          if (c.name && current) named.set(c.name, current);
          break;
        }
        case 'register': {
          const inst = c.name ? named.get(c.name) : current;
          if (inst) { registry.m[c.as] = inst.m.exports; registry.o[c.as] = inst.o.exports; }
          break;
        }
        case 'assert_invalid':
        case 'assert_malformed': {
          if (c.module_type !== 'binary') break;
          const bytes = load(c);
          count.invalid++;
          if (pipeline(bytes).ok) { count.invalidAccepted++; note('invalid module accepted', where(c), c.text); }
          const alone = meterAlone(bytes);
          if (alone === 'valid') { count.invalidMeterAloneValid++; note('invalid module made valid by the meter alone', where(c), c.text); }
          if (alone === 'refused') count.invalidMeterAloneRefused++;
          break;
        }
        case 'assert_uninstantiable':
        case 'assert_unlinkable': {
          count.assertions++;
          const bytes = load(c);
          const p = pipeline(bytes);
          if (!p.ok) { count.passed++; break; }
          // As it is too: a failed instantiation may still have written into imported tables and memories.
          try { instantiate(bytes, registry.o); } catch { /* expected */ }
          try {
            instantiate(p.metered.bytes, registry.m);
            count.changed++; note(`${c.type} instantiated metered`, where(c));
          } catch { count.passed++; }
          break;
        }
        case 'action':
          invoke(c);
          invoke(c, 'o');
          break;
        case 'assert_return': {
          count.assertions++;
          const same = (got) => got.length === c.expected.length && c.expected.every((e, i) => matches(e, got[i]));
          const got = invoke(c);
          const unmetered = invoke(c, 'o'); // also keeps both instances' state the same
          if (same(got)) count.passed++;
          else if (!same(unmetered)) { count.skipped++; if (verbose) note('harness: differs unmetered too', where(c)); }
          else { count.changed++; note('assert_return differs metered', where(c), `${got.map(String)} vs ${c.expected.map((e) => e.value)}`); }
          break;
        }
        case 'assert_trap':
        case 'assert_exhaustion': {
          count.assertions++;
          try { invoke(c, 'o'); } catch { /* expected */ }
          try {
            invoke(c);
            count.changed++; note(`${c.type} did not trap metered`, where(c), c.text);
          } catch (e) {
            if (e instanceof Skip || e instanceof TypeError) throw new Skip(e.message);
            if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) count.passed++;
            else { count.changed++; note(`${c.type} threw ${e.constructor.name} metered`, where(c), e.message); }
          }
          break;
        }
        default:
          break;
      }
    } catch (e) {
      if (e instanceof Skip || e instanceof TypeError) { count.skipped++; if (verbose) note('skipped', where(c), e.message); }
      else { count.changed++; note(`${c.type} threw`, where(c), `${e.constructor.name}: ${e.message}`); }
    }
  }
}

const dir = mkdtempSync(join(tmpdir(), 'spec-meter-'));
try {
  const files = readdirSync(suite).filter((f) => f.endsWith('.wast')).sort().map((f) => join(suite, f));
  for (const file of files) {
    rmSync(dir, { recursive: true, force: true }); // one directory, emptied for each file
    mkdirSync(dir);
    runFile(file, dir);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

for (const p of problems) console.log(p);
console.log(JSON.stringify({ ...count, refusedBySandbox: Object.fromEntries(refusedBySandbox) }, null, 1));
const failed = count.invalidAccepted > 0 || count.meteredInvalid > 0;
console.log(failed ? 'FAILED: an invalid module was accepted, or a valid one metered into an invalid one.' : 'The property holds: no invalid module accepted, every valid module metered to a valid one.');
process.exit(failed ? 1 : 0);
