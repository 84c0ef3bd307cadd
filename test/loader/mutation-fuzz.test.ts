/**
 * A seeded mutation fuzz of the two load paths: components mutated from
 * real ones, byte by byte and by editing their `wasm-tools print` text
 * (imports and exports duplicated, deleted or swapped, indices and types
 * changed, limits changed, then `parse`d again), are loaded through the
 * fast path and the jco path, metered. Both must give the same answer:
 * accepted by both or refused by both with the same error code and
 * message; when accepted, the same results, faults, host calls and
 * conversation for open-session and close-session.
 *
 * The seed is printed; set PAMWASM_FUZZ_SEED to replay a run, and
 * PAMWASM_FUZZ_CASES to run more cases than the suite's default.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, print } from '@bytecodealliance/jco-transpile/wasm-tools';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MODULE_DIR } from '../../host/stack/index.js';
import { close, loadBoth, open, runCalls, sameFields, type Trace } from '../support/paths.js';

const SEED = Number(process.env.PAMWASM_FUZZ_SEED ?? Date.now() % 2 ** 31);
const CASES = Number(process.env.PAMWASM_FUZZ_CASES ?? 60);
const BASES = ['pam_debug.wasm', 'pam_echo.wasm', 'pam_permit.wasm'];
const LOAD = { meter: { maxMemoryPages: 64 } };
const CALLS = [open({ silent: false }, ['open_session=session_err', 'hello']), close({ silent: true }, [])];

/** mulberry32: a small seeded generator, enough to replay a case from its seed. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];

/** One to four byte edits: set a byte, flip a bit, insert or delete one. */
function mutateBytes(rng: Rng, b: Uint8Array): { bytes: Uint8Array; what: string } {
  const bytes = [...b];
  const edits: string[] = [];
  for (let n = 1 + Math.floor(rng() * 4); n > 0; n--) {
    const at = 8 + Math.floor(rng() * (bytes.length - 8));
    const kind = pick(rng, ['set', 'flip', 'insert', 'delete'] as const);
    if (kind === 'set') bytes[at] = Math.floor(rng() * 256);
    else if (kind === 'flip') bytes[at] ^= 1 << Math.floor(rng() * 8);
    else if (kind === 'insert') bytes.splice(at, 0, Math.floor(rng() * 256));
    else bytes.splice(at, 1);
    edits.push(`${kind}@${at}`);
  }
  return { bytes: Uint8Array.from(bytes), what: `bytes ${edits.join(' ')}` };
}

/** One structural edit of the component's text; undefined when the text has no place for it. */
function mutateText(rng: Rng, text: string): { text: string; what: string } | undefined {
  const lines = text.split('\n');
  const where = (re: RegExp) => lines.map((l, i) => (re.test(l) ? i : -1)).filter((i) => i >= 0);
  const kind = pick(rng, ['duplicate-import', 'delete-import', 'swap-imports', 'delete-export', 'duplicate-export', 'index', 'limits', 'type'] as const);
  const imports = where(/^\s*\(import "/);
  const exports = where(/^\s*\(export "/);
  const one = (xs: number[]) => (xs.length ? pick(rng, xs) : undefined);
  switch (kind) {
    case 'duplicate-import':
    case 'duplicate-export': {
      const i = one(kind === 'duplicate-import' ? imports : exports);
      if (i === undefined) return undefined;
      lines.splice(i, 0, lines[i]);
      return { text: lines.join('\n'), what: `${kind} line ${i}` };
    }
    case 'delete-import':
    case 'delete-export': {
      const i = one(kind === 'delete-import' ? imports : exports);
      if (i === undefined) return undefined;
      lines.splice(i, 1);
      return { text: lines.join('\n'), what: `${kind} line ${i}` };
    }
    case 'swap-imports': {
      const i = one(imports);
      const j = one(imports);
      if (i === undefined || j === undefined || i === j) return undefined;
      [lines[i], lines[j]] = [lines[j], lines[i]];
      return { text: lines.join('\n'), what: `swap lines ${i} ${j}` };
    }
    case 'index': {
      const i = one(where(/\b(call|global\.get|global\.set|local\.get|call_indirect \(type|table\.get|ref\.func) \d+/));
      if (i === undefined) return undefined;
      const delta = pick(rng, [-1, 1, 2, 1000]);
      lines[i] = lines[i].replace(/\b(call|global\.get|global\.set|local\.get|call_indirect \(type|table\.get|ref\.func) (\d+)/, (_, op, n) => `${op} ${Math.max(0, Number(n) + delta)}`);
      return { text: lines.join('\n'), what: `index ${delta > 0 ? '+' : ''}${delta} line ${i}` };
    }
    case 'limits': {
      const i = one(where(/\((memory|table) \(;\d+;\) \d+/));
      if (i === undefined) return undefined;
      const edit = pick(rng, [' 65537', ' 1 shared', ' 0', ' 20000000 funcref']);
      lines[i] = lines[i].replace(/(\((memory|table) \(;\d+;\) )(\d+)( \d+)?/, (_, head, _kind, min) => `${head}${min}${edit.startsWith(' 2') ? '' : edit}`);
      return { text: lines.join('\n'), what: `limits${edit} line ${i}` };
    }
    case 'type': {
      const i = one(where(/\(type \d+\)/));
      if (i === undefined) return undefined;
      lines[i] = lines[i].replace(/\(type (\d+)\)/, (_, n) => `(type ${Number(n) + pick(rng, [1, -1, 3])})`);
      return { text: lines.join('\n'), what: `type index line ${i}` };
    }
  }
}

/** What of a trace must agree between the paths (console output and the raw core calls of the glue may differ in form). */
const observable = (t: Trace) => ({ events: t.events, messages: t.messages, log: t.log, env: t.env, data: t.data });

describe('mutation fuzz of the fast path against the jco path', () => {
  it(`components mutated from real ones get the same answer from both paths (seed ${SEED}, ${CASES} cases)`, async () => {
    const rng = generator(SEED);
    const bases = BASES.map((f) => new Uint8Array(readFileSync(join(BUNDLED_MODULE_DIR, f))));
    const texts = await Promise.all(bases.map((b) => print(b)));
    const tally = { byte: 0, text: 0, unparsable: 0, accepted: 0, refused: new Map<string, number>() };
    const started = performance.now();
    for (let c = 0; c < CASES; c++) {
      const base = Math.floor(rng() * bases.length);
      let bytes: Uint8Array | undefined;
      let what: string;
      if (rng() < 0.5) {
        ({ bytes, what } = mutateBytes(rng, bases[base]));
        tally.byte++;
      } else {
        const m = mutateText(rng, texts[base]);
        if (!m) { c--; continue; }
        what = m.what;
        tally.text++;
        bytes = await parse(m.text).catch(() => undefined);
        if (!bytes) { tally.unparsable++; continue; }
      }
      const label = `seed ${SEED} case ${c} (${BASES[base]}: ${what})`;
      const { fast, jco, fastModule, jcoModule } = await loadBoth(bytes, LOAD);
      expect(sameFields(fast), label).toEqual(sameFields(jco));
      if (fastModule && jcoModule) {
        tally.accepted++;
        const a = runCalls(fastModule, CALLS, { limitMs: 500 });
        const b = runCalls(jcoModule, CALLS, { limitMs: 500 });
        expect(observable(a), label).toEqual(observable(b));
      } else if (!fast.ok) {
        tally.refused.set(fast.code, (tally.refused.get(fast.code) ?? 0) + 1);
      }
    }
    console.log(`mutation fuzz: seed ${SEED}, ${CASES} cases (${tally.byte} byte, ${tally.text} text of which ${tally.unparsable} did not parse), `
      + `${tally.accepted} accepted by both, refused: ${[...tally.refused].map(([k, v]) => `${k} ${v}`).join(', ')}; ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 120_000);
});
