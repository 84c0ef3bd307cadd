import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeReferenceWorld } from '../../host/build/reference-world.js';
import { faceToJson, readFace } from '../../host/loader/component/face.js';
import { buildReferenceWorld, faceOfReference, precomputedReference, referenceComponent, referenceComponentKey, REFERENCE_FILE, worldFace } from '../../host/loader/component/reference.js';
import { loadComponent } from '../../host/loader/index.js';
import { checkWorld } from '../../host/loader/world.js';
import { WORLD_NAME, witSource } from '../../host/wit/index.js';
import { componentFromWit, sessionWitWith } from '../support/components.js';

describe('the reference world precomputed at build', () => {
  it('equals what the runtime path builds from wit/', async () => {
    const built = await buildReferenceWorld();
    const file = precomputedReference();
    expect(file, `${REFERENCE_FILE} is missing or stale: run npm run build`).toBeDefined();
    expect(file).toEqual(built);
  }, 60_000);

  it('is ignored when its key differs or it is malformed, and built from wit/ instead', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pamwasm-refworld-'));
    try {
      const built = await buildReferenceWorld();
      const f = join(dir, 'reference-world.json');
      writeFileSync(f, JSON.stringify(built));
      expect(precomputedReference(f)).toEqual(built);
      // Another WIT or world: the file's component is not taken.
      writeFileSync(f, JSON.stringify({ componentKey: '0'.repeat(64), component: 'AGFzbQ0AAQA=' }));
      expect(precomputedReference(f)).toBeUndefined();
      expect(await referenceComponent(f)).toBe(built.component);
      writeFileSync(f, JSON.stringify({ ...built, component: 7 }));
      expect(precomputedReference(f)).toBeUndefined();
      // A file from before faces were written, or with a face of another shape.
      writeFileSync(f, JSON.stringify({ componentKey: built.componentKey, component: built.component }));
      expect(precomputedReference(f)).toBeUndefined();
      writeFileSync(f, JSON.stringify({ ...built, face: { ...built.face, funcs: {} } }));
      expect(precomputedReference(f)).toBeUndefined();
      writeFileSync(f, '{');
      expect(precomputedReference(f)).toBeUndefined();
      expect(precomputedReference(join(dir, 'missing.json'))).toBeUndefined();
      expect(built.componentKey).toBe(referenceComponentKey());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the face precomputed with the reference world', () => {
  it('is the face its component gives, and is what the world check compares with', async () => {
    const file = precomputedReference()!;
    expect(file.face).toEqual(faceToJson(faceOfReference(file.component)));
    expect(faceToJson(await worldFace())).toEqual(file.face);
  });

  it('is written again by the build when it is not the face of the component beside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pamwasm-refface-'));
    try {
      const f = join(dir, 'reference-world.json');
      const good = precomputedReference()!;
      const face = { ...good.face, funcs: good.face.funcs.filter(([n]) => n !== 'close-session') };
      writeFileSync(f, JSON.stringify({ ...good, face }));
      expect(precomputedReference(f)?.face.funcs).toHaveLength(1);
      expect(await writeReferenceWorld(f)).toEqual({ file: f, written: true });
      expect(precomputedReference(f)).toEqual(good);
      expect(await writeReferenceWorld(f)).toEqual({ file: f, written: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

/** The error a load gives, with `fastPath` as asked. */
const failure = (c: Uint8Array, fastPath: boolean, allowImports?: string[]) =>
  loadComponent(c, { fastPath, allowImports }).then(() => undefined, (e: { code: string; message: string }) => e);

describe('the one world check', () => {
  it('reads a component of the world as the world itself, on both readers', async () => {
    const world = await worldFace();
    const face = readFace(await componentFromWit(witSource(), WORLD_NAME));
    expect(() => checkWorld(face, world, 'the world')).not.toThrow();
    expect([...face.funcs.keys()].sort()).toEqual(['close-session', 'open-session']);
  }, 60_000);

  it('refuses a status enum with one case fewer, though jco would print the same names', async () => {
    const wit = sessionWitWith('').replace(/\n\s*\/\/\/[^\n]*\n\s*incomplete,/, '\n');
    expect(wit).not.toMatch(/\bincomplete,/);
    const c = await componentFromWit(wit, WORLD_NAME);
    for (const fastPath of [true, false]) {
      const e = await failure(c, fastPath);
      expect(e?.code, `fastPath ${fastPath}`).toBe('ERR_PAMWASM_WRONG_WORLD');
      expect(e?.message).toMatch(/exports open-session with the wrong type \(func\(flags: session-flags \(flags \{ silent \}\), argv: list<string>\) -> status \(enum \{ success, .*conv-again \}\)\)/);
    }
  }, 60_000);

  it('refuses an interface of the world with a function of another type, with one code and message on both paths', async () => {
    const wit = sessionWitWith('').replace('get-env: func(name: string) -> option<string>;', 'get-env: func(name: string) -> option<list<u8>>;');
    expect(wit).toContain('option<list<u8>>');
    const c = await componentFromWit(wit, WORLD_NAME);
    const [fast, jco] = [await failure(c, true), await failure(c, false)];
    expect(fast?.code).toBe('ERR_PAMWASM_WRONG_WORLD');
    expect(fast?.message).toBe(jco?.message);
    expect(fast?.message).toMatch(/uses a different version of pamwasm:session\/env: its function get-env: func\(name: string\) -> option<list<u8>> is not the session-module world's/);
  }, 60_000);

  it('reads the resources and variants of a granted WASI interface, and names an ungranted one', async () => {
    const wit = sessionWitWith(`
      world with-wasi {
        import wasi:filesystem/types@0.2.0;
        use types.{status, session-flags};
        export open-session: func(%flags: session-flags, argv: list<string>) -> status;
        export close-session: func(%flags: session-flags, argv: list<string>) -> status;
      }
      package wasi:filesystem@0.2.0 {
        interface types {
          variant error-code { access, other(string) }
          resource descriptor { read: func(length: u64, offset: u64) -> result<tuple<list<u8>, bool>, error-code>; }
          open: func(path: string) -> result<descriptor, error-code>;
        }
      }`);
    const c = await componentFromWit(wit, 'with-wasi');
    const face = readFace(c);
    expect([...face.instances.keys()].some((n) => n.startsWith('wasi:filesystem/types@'))).toBe(true);
    const world = await worldFace();
    expect(() => checkWorld(face, world, 'it', ['wasi:filesystem/types'])).not.toThrow();
    const types = [...face.instances].find(([n]) => n.startsWith('wasi:filesystem/types@'))![1];
    expect(types.get('descriptor')).toMatchObject({ sort: 'type', type: { k: 'named', of: { k: 'other', what: 'resource' } } });
    expect(types.get('open')).toMatchObject({ sort: 'func' });
    expect(() => checkWorld(face, world, 'it')).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_FORBIDDEN_IMPORT' }));
  }, 60_000);
});
