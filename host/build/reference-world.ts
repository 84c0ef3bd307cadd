/**
 * Writes dist/reference-world.json: the reference component of the
 * session-module world that the loader's world check compares a component
 * with (host/loader/component/reference.ts), keyed by what it depends on.
 * Without it every process that checks a component builds it from `wit/`
 * (wasm-tools, a few hundred ms of a cold load); the loader uses the file
 * only when its key matches and builds it itself otherwise. A file whose
 * key matches is left as it is, so a build with nothing new skips the work.
 *
 *   node dist/host/build/reference-world.js     (part of `npm run build`)
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { faceToJson } from '../loader/component/face.js';
import { buildReferenceWorld, faceOfReference, precomputedReference, REFERENCE_FILE } from '../loader/component/reference.js';

/**
 * Writes the reference to `file`, unless the file there is one the loader
 * already accepts (its key is this installation's) and whose face is the
 * one its component gives (the loader takes the face as it is written);
 * says whether it wrote.
 */
export async function writeReferenceWorld(file = REFERENCE_FILE): Promise<{ file: string; written: boolean }> {
  const present = precomputedReference(file);
  if (present && JSON.stringify(present.face) === JSON.stringify(faceToJson(faceOfReference(present.component)))) return { file, written: false };
  const d = await buildReferenceWorld();
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(d, null, 1)}\n`);
  renameSync(tmp, file);
  return { file, written: true };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { file, written } = await writeReferenceWorld();
  console.error(`reference world: ${relative(process.cwd(), file) || file}${written ? '' : ' (up to date)'}`);
}
