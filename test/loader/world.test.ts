import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildReferenceDeclarations, precomputedReference, referenceComponent, referenceComponentKey, REFERENCE_FILE } from '../../host/loader/world.js';

describe('the reference world precomputed at build', () => {
  it('equals what the runtime path builds from wit/', async () => {
    const built = await buildReferenceDeclarations();
    const file = precomputedReference();
    expect(file, `${REFERENCE_FILE} is missing or stale: run npm run build`).toBeDefined();
    expect(file).toEqual(built);
  }, 60_000);

  it('is ignored when its key differs or it is malformed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pamwasm-refworld-'));
    try {
      const built = await buildReferenceDeclarations();
      const f = join(dir, 'reference-world.json');
      writeFileSync(f, JSON.stringify(built));
      expect(precomputedReference(f)).toEqual(built);
      writeFileSync(f, JSON.stringify({ ...built, key: '0'.repeat(64) }));
      expect(precomputedReference(f)).toBeUndefined();
      writeFileSync(f, JSON.stringify({ ...built, hooks: { openSession: built.hooks.openSession } }));
      expect(precomputedReference(f)).toBeUndefined();
      writeFileSync(f, JSON.stringify({ ...built, worldTypes: 'x' }));
      expect(precomputedReference(f)).toBeUndefined();
      writeFileSync(f, '{');
      expect(precomputedReference(f)).toBeUndefined();
      expect(precomputedReference(join(dir, 'missing.json'))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('gives the fast path its component where only the glue generator differs (an app without it installed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pamwasm-refworld-'));
    try {
      const built = await buildReferenceDeclarations();
      const f = join(dir, 'reference-world.json');
      // The key of an installation whose glue generator is another (or none).
      writeFileSync(f, JSON.stringify({ ...built, key: '0'.repeat(64), component: 'AGFzbQ0AAQA=' }));
      expect(precomputedReference(f)).toBeUndefined();
      expect(await referenceComponent(f)).toBe('AGFzbQ0AAQA=');
      // Another WIT or world: the file's component is not taken.
      writeFileSync(f, JSON.stringify({ ...built, componentKey: '0'.repeat(64), component: 'AGFzbQ0AAQA=' }));
      expect(await referenceComponent(f)).toBe(built.component);
      expect(built.componentKey).toBe(referenceComponentKey());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
