/**
 * The session-module world as the world check (host/loader/world.ts)
 * compares components with it: the face (face.ts) of the reference
 * component that `wit/` itself makes (wasm-tools' componentEmbed and
 * componentNew with a dummy core module), read by this folder's own
 * reader. No second description of the world is written by hand.
 *
 * Building the reference (wasm-tools' start-up, componentEmbed and
 * componentNew) costs a cold load a few hundred ms, and reading its face
 * a few more, so `npm run build` writes both to dist/reference-world.json
 * (host/build/reference-world.ts, which also checks that the face there is
 * the one its component gives).
 * That file is used only when its key is this installation's: the sha256
 * of the WIT source and the world's name. Otherwise (no file, another key,
 * anything unreadable) the reference is built here, so a stale file cannot
 * change the check.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot, witSource, WORLD_NAME } from '../../wit/index.js';
import { faceFromJson, faceOf, faceToJson, type Face, type FaceJson } from './face.js';
import { readModel } from './model.js';

/** Where `npm run build` writes the reference component. */
export const REFERENCE_FILE = join(packageRoot(), 'dist', 'reference-world.json');

/** The reference as the file holds it. */
export interface ReferenceWorld {
  /** What the component depends on: the WIT source and the world. */
  componentKey: string;
  /** The reference component (base64). */
  component: string;
  /** The component's face (face.ts), so that a load need not read the component. */
  face: FaceJson;
}

/** What the reference component depends on: the WIT source and the world. */
export function referenceComponentKey(): string {
  return createHash('sha256').update(witSource()).update('\0').update(WORLD_NAME).digest('hex');
}

/** Builds the reference component from `wit/` (wasm-tools, from jco-transpile). */
export async function buildReferenceWorld(): Promise<ReferenceWorld> {
  // Imported here, not at the top: a process that loads every component
  // from the disk cache never checks a world and never needs wasm-tools.
  const { componentEmbed, componentNew } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  const embedded = await componentEmbed({ dummy: true, witSource: witSource(), world: WORLD_NAME });
  const component = Buffer.from(await componentNew(embedded)).toString('base64');
  return { componentKey: referenceComponentKey(), component, face: faceToJson(faceOfReference(component)) };
}

/** The face of a reference component (base64), read by this folder's reader. */
export function faceOfReference(component: string): Face {
  return faceOf(readModel(new Uint8Array(Buffer.from(component, 'base64'))));
}

/** The reference in `file` when it exists, is well formed and has this installation's key. */
export function precomputedReference(file = REFERENCE_FILE): ReferenceWorld | undefined {
  let d: Partial<ReferenceWorld>;
  try {
    d = JSON.parse(readFileSync(file, 'utf8')) as Partial<ReferenceWorld>;
  } catch {
    return undefined;
  }
  if (!d || typeof d !== 'object' || d.componentKey !== referenceComponentKey() || typeof d.component !== 'string' || !faceFromJson(d.face)) return undefined;
  return { componentKey: d.componentKey, component: d.component, face: d.face! };
}

/** The reference component (base64): from the build's file when its key is this installation's, else built. */
export async function referenceComponent(file = REFERENCE_FILE): Promise<string> {
  return (precomputedReference(file) ?? (await buildReferenceWorld())).component;
}

let world: Promise<Face> | undefined;

/**
 * The world's face, once per process; rejects when the reference cannot be
 * had (no file and no wasm-tools), and the next call tries again.
 */
export function worldFace(): Promise<Face> {
  world ??= (async () => precomputedReference() ?? buildReferenceWorld())().then((reference) => {
    const face = faceFromJson(reference.face)!;
    if (!face.funcs.size || !face.instances.size) throw new Error('the reference world built from wit/ has no exports or no imports.');
    return face;
  });
  world.catch(() => { world = undefined; });
  return world;
}
