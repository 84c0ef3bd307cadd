/**
 * TypeScript declarations of the session-module world for JS/TS guests,
 * generated from `wit/` so they cannot drift from the contract.
 *
 * The declarations live in `guest-modules/sdk/js/session.d.ts` (checked in,
 * so editors and `tsc` see them without a build step). `buildJsModules()`
 * refreshes the file, and a test fails when it is stale.
 *
 * @example
 *   await writeGuestTypes();   // rewrites session.d.ts only when the WIT changed
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot, witSource, WIT_PACKAGE, WIT_VERSION, WORLD_NAME } from '../wit/index.js';

/** Where the generated declarations are kept. */
export const GUEST_TYPES_FILE = join(packageRoot(), 'guest-modules', 'sdk', 'js', 'session.d.ts');

const HEADER = `// Generated from wit/ by writeGuestTypes() in host/build/js-types.ts: edit the
// WIT and rebuild the guests (npm run build:guests), never this file.
//
// Inside componentize-js the host's interfaces are ES modules named by their
// versioned WIT name; the JS builder also accepts the unversioned name, so both
// are declared.
`;

/**
 * The declarations text for `session.d.ts`.
 *
 * jco's `generateGuestTypes()` takes a WIT *path* and reads it through the
 * preview2-shim, which starts with no preopens; the bindgen
 * component's `generateTypes` also accepts the WIT as a source string, so no
 * filesystem grant is needed.
 */
export async function guestTypes(): Promise<string> {
  // Imported here: jco-transpile is an optional peer dependency (host/deps).
  const { $init, generateTypes } = await import('@bytecodealliance/jco-transpile/component');
  await $init;
  const files = generateTypes(WORLD_NAME, {
    wit: { tag: 'source', val: witSource() },
    world: WORLD_NAME,
    guest: true,
    features: { tag: 'list', val: [] },
  });
  const decoder = new TextDecoder();
  const byName = new Map(files.map(([name, bytes]) => [name, decoder.decode(bytes)]));
  // The world file last, interfaces in name order: a stable file for diffs.
  const names = [...byName.keys()].sort((a, b) => Number(!a.includes('/')) - Number(!b.includes('/')) || a.localeCompare(b));
  const parts = [HEADER.trimEnd()];
  const aliases: string[] = [];
  for (const name of names) {
    const text = byName.get(name)!.replace(/^\/\/\/ <reference path=.*\n/gm, '').trimEnd();
    parts.push(text);
    for (const m of text.matchAll(/^declare module '([^'@]+)@([^']+)'/gm)) {
      const [, bare, version] = m;
      if (version !== WIT_VERSION || !bare.startsWith(`${WIT_PACKAGE}/`) || bare.endsWith(`/${WORLD_NAME}`)) continue;
      aliases.push(`declare module '${bare}' {\n  export * from '${bare}@${version}';\n}`);
    }
  }
  parts.push(...aliases);
  return parts.join('\n\n') + '\n';
}

/** Rewrites `session.d.ts` when it differs from the WIT; true when it changed. */
export async function writeGuestTypes(file = GUEST_TYPES_FILE): Promise<boolean> {
  const text = await guestTypes();
  const old = await readFile(file, 'utf8').catch(() => undefined);
  if (old === text) return false;
  await writeFile(file, text);
  return true;
}
