/**
 * The fast path fails closed: components altered from good ones (another
 * export type, an import outside the world, a truncated section, indices out
 * of range, single bytes changed anywhere outside the core modules) are
 * never accepted by it when jco's path would refuse them; the answer the
 * loader gives is always jco's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sections } from '../../host/loader/component/binary.js';
import { BUNDLED_MODULE_DIR } from '../../host/stack/index.js';
import { WORLD_NAME, witSource } from '../../host/wit/index.js';
import { componentFromWit, sessionWitWith } from '../support/components.js';
import { loadBoth, sameFields } from '../support/paths.js';

const PREAMBLE = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
const CORE_MODULE = 1;
const good = new Uint8Array(readFileSync(join(BUNDLED_MODULE_DIR, 'pam_debug.wasm')));
const sectionsOf = (b: Uint8Array) => sections(b, 0, b.length, PREAMBLE);

/** Loads through both paths; the fast one must not have accepted what jco refuses, and the answers must match. */
async function expectJcosAnswer(bytes: Uint8Array, what: string, options: { fastMayAccept?: boolean } = {}) {
  const { fast, jco } = await loadBoth(bytes);
  expect(sameFields(fast), what).toEqual(sameFields(jco));
  if (fast.ok && fast.via === 'fast') {
    expect(options.fastMayAccept, `${what}: the fast path accepted it`).toBe(true);
    expect(jco.ok, `${what}: the fast path accepted what jco refuses`).toBe(true);
  }
  return { fast, jco };
}

/** A copy of `b` with `edit` applied to the contents of the first section with id `id`. */
function editSection(b: Uint8Array, id: number, edit: (contents: Uint8Array) => void): Uint8Array {
  const out = b.slice();
  const s = sectionsOf(out).find((x) => x.id === id);
  if (!s) throw new Error(`no section ${id}`);
  edit(out.subarray(s.start, s.end));
  return out;
}

describe('components altered from good ones', () => {
  it('starts from a component the fast path accepts', async () => {
    const { fast } = await loadBoth(good);
    expect(fast.ok && fast.via).toBe('fast');
  });

  it('an export of another type is refused as jco refuses it', async () => {
    const c = await componentFromWit(sessionWitWith(`
      world other-hooks {
        use types.{status, session-flags};
        export open-session: func(%flags: session-flags, argv: list<string>) -> u32;
        export close-session: func(%flags: session-flags, argv: list<string>) -> status;
      }`), 'other-hooks');
    const { jco } = await expectJcosAnswer(c, 'open-session -> u32');
    expect(jco).toMatchObject({ ok: false, code: 'ERR_PAMWASM_WRONG_WORLD' });
  });

  it('an import outside the world is refused as jco refuses it', async () => {
    const c = await componentFromWit(sessionWitWith(`
      world extra-import {
        import wasi:cli/environment@0.2.0;
        use types.{status, session-flags};
        export open-session: func(%flags: session-flags, argv: list<string>) -> status;
        export close-session: func(%flags: session-flags, argv: list<string>) -> status;
      }
      package wasi:cli@0.2.0 { interface environment { get-arguments: func() -> list<string>; } }`), 'extra-import');
    const { jco } = await expectJcosAnswer(c, 'imports wasi:cli/environment');
    expect(jco).toMatchObject({ ok: false, code: 'ERR_PAMWASM_FORBIDDEN_IMPORT' });
  });

  it('an interface of the world with another type in it is not taken by the fast path', async () => {
    const wit = witSource().replace('get-item: func(which: item) -> option<string>;', 'get-item: func(which: item) -> option<list<u8>>;');
    expect(wit).not.toBe(witSource());
    const c = await componentFromWit(wit, WORLD_NAME);
    const { fast, jco } = await expectJcosAnswer(c, 'get-item -> option<list<u8>>');
    expect(fast.ok && fast.via).not.toBe('fast');
    expect(jco).toMatchObject({ ok: false, code: 'ERR_PAMWASM_WRONG_WORLD' });
  });

  it('the world itself, built from wit/, is taken by the fast path', async () => {
    const { fast } = await expectJcosAnswer(await componentFromWit(witSource(), WORLD_NAME), 'the world', { fastMayAccept: true });
    expect(fast.ok && fast.via).toBe('fast');
  });

  it('a component cut short anywhere is refused as jco refuses it', async () => {
    const cuts = [...new Set(sectionsOf(good).flatMap((s) => [s.start - 1, s.start + 1, Math.floor((s.start + s.end) / 2), s.end - 1]))];
    for (const at of cuts.filter((n) => n > 8 && n < good.length)) {
      const { jco } = await expectJcosAnswer(good.subarray(0, at), `cut at ${at}`);
      expect(jco.ok, `cut at ${at}`).toBe(false);
    }
  }, 60_000);

  it.each([
    ['the module a core instance instantiates', 2, (c: Uint8Array) => { c[2] = 0x7f; }],
    ['the function a canon lower lowers', 8, (c: Uint8Array) => { c[3] = 0x7f; }],
    ['the instance an alias reads', 6, (c: Uint8Array) => { c[3] = 0x7f; }],
    ['the function an export exports', 11, (c: Uint8Array) => { c[c.length - 2] = 0x7f; }],
  ])('an index out of range (%s) is refused as jco refuses it', async (what, id, edit) => {
    const { jco } = await expectJcosAnswer(editSection(good, id, edit), what);
    expect(jco.ok).toBe(false);
  });

  it('one byte changed anywhere outside the core modules: the fast path never accepts what jco refuses', async () => {
    const places = sectionsOf(good).filter((s) => s.id !== CORE_MODULE).flatMap((s) => Array.from({ length: s.end - s.start }, (_, i) => s.start + i));
    const step = Math.max(1, Math.floor(places.length / 150));
    let refused = 0;
    for (let k = 0; k < places.length; k += step) {
      for (const change of [(v: number) => v ^ 0x01, (v: number) => (v + 0x40) & 0xff]) {
        const b = good.slice();
        b[places[k]] = change(b[places[k]]);
        const { jco } = await expectJcosAnswer(b, `byte ${places[k]} changed`, { fastMayAccept: true });
        if (!jco.ok) refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
  }, 300_000);
});
