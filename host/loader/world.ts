/**
 * Checks that a transpiled component targets the session-module world: the
 * two session hooks exported with the world's types, and no imports outside
 * the world except those the caller grants.
 *
 * The check compares jco's TypeScript declarations of the candidate with
 * those of a reference component made from `wit/` itself: jco prints every
 * function and type from the component's own type section, so a component
 * whose `status` enum, flags or argument lists differ from the world's shows
 * different lines, even where the names match.
 *
 * Building the reference (wasm-tools' start-up, componentEmbed, componentNew
 * and a transpile) cost a cold load without the disk cache a few hundred ms
 * in every process, so `npm run build` writes its declarations to
 * dist/reference-world.json (host/build/reference-world.ts). That file is
 * used only when its key is this installation's: the sha256 of the WIT
 * source, the world's name and the glue generator's version. Otherwise (no
 * file, another key, anything unreadable) the reference is built here as
 * before, so a stale file cannot change the check. The fast path needs only
 * the reference component, keyed by the WIT and the world alone, so an
 * installed package without the optional generator still plans components.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ForbiddenImportError, WrongWorldError } from '../errors/index.js';
import { WORLD_IMPORTS, WORLD_NAME, packageRoot, witSource } from '../wit/index.js';
import { packageVersion } from './cache.js';
import { kebabCase, unversioned } from './names.js';
import { GLUE_GENERATOR, transpileComponent, type Transpiled } from './transpile.js';

const EXPORTS = ['openSession', 'closeSession'] as const;

/** Declarations that matter for type identity: no comments, imports or blank lines. */
function declarationLines(dts: string): string[] {
  return dts
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .split('\n')
    .map((l) => l.replace(/\/\/.*$/, '').trim())
    .filter((l) => l && !l.startsWith('import '));
}

interface Reference {
  /** Declaration lines per interface file name. */
  interfaces: Map<string, Set<string>>;
  /** The signature line of each exported hook. */
  hooks: Map<string, string>;
  /** Type aliases of the world file. */
  worldTypes: Set<string>;
}

let reference: Promise<Reference> | undefined;

function hookLine(lines: string[], hook: string): string | undefined {
  return lines.find((l) => l.startsWith(`${hook}(`));
}

function worldDts(t: Transpiled): string[] {
  return declarationLines(t.files.get(`${t.name}.d.ts`) ?? '');
}

/** Where `npm run build` writes the reference declarations. */
export const REFERENCE_FILE = join(packageRoot(), 'dist', 'reference-world.json');

/** The reference declarations as JSON holds them (sorted, for a stable file). */
export interface ReferenceDeclarations {
  key: string;
  interfaces: Record<string, string[]>;
  hooks: Record<string, string>;
  worldTypes: string[];
  /** The reference component itself (base64): the loader's fast path reads the world's types from it (component/reference.ts). */
  component: string;
  /**
   * What the component alone depends on (the WIT source and the world): the
   * fast path takes it from the file when this matches, even where the glue
   * generator, an optional package, is not installed and `key` differs.
   */
  componentKey: string;
}

/**
 * What the declarations depend on: the WIT source, the world and the glue
 * generator's version (it prints them). Not wasm-tools' version: the
 * reference component it makes has the WIT's types whatever its version, and
 * an app that installs the optional glue generator without the build tools
 * can then still use the file the package was built with.
 */
export function referenceKey(): string {
  return createHash('sha256').update(witSource()).update('\0').update(WORLD_NAME)
    .update('\0').update(packageVersion(`${GLUE_GENERATOR}/component`)).digest('hex');
}

/** What the reference component depends on: the WIT source and the world. */
export function referenceComponentKey(): string {
  return createHash('sha256').update(witSource()).update('\0').update(WORLD_NAME).digest('hex');
}

/** Builds the reference declarations from `wit/` (wasm-tools and the glue generator). */
export async function buildReferenceDeclarations(): Promise<ReferenceDeclarations> {
  // Imported here, not at the top: a process that loads every component
  // from the disk cache never checks a world and never needs wasm-tools.
  const { componentEmbed, componentNew } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  const embedded = await componentEmbed({ dummy: true, witSource: witSource(), world: WORLD_NAME });
  const component = await componentNew(embedded);
  const t = await transpileComponent(component);
  const interfaces: Record<string, string[]> = {};
  for (const [file, text] of [...t.files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (file.startsWith('interfaces/')) interfaces[file] = [...new Set(declarationLines(text))].sort();
  }
  const lines = worldDts(t);
  const hooks: Record<string, string> = {};
  for (const h of EXPORTS) {
    const line = hookLine(lines, h);
    if (line === undefined) throw new Error(`the reference world from wit/ does not export ${kebabCase(h)}.`);
    hooks[h] = line;
  }
  const worldTypes = [...new Set(lines.filter((l) => l.startsWith('export type ')))].sort();
  return {
    key: referenceKey(), interfaces, hooks, worldTypes,
    component: Buffer.from(component).toString('base64'), componentKey: referenceComponentKey(),
  };
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The precomputed declarations when the file exists, is well formed and has this key. */
export function precomputedReference(file = REFERENCE_FILE): ReferenceDeclarations | undefined {
  let d: ReferenceDeclarations;
  try {
    d = JSON.parse(readFileSync(file, 'utf8')) as ReferenceDeclarations;
  } catch {
    return undefined;
  }
  if (!d || typeof d !== 'object' || d.key !== referenceKey()) return undefined;
  if (!d.interfaces || typeof d.interfaces !== 'object' || !Object.values(d.interfaces).every(isStrings)) return undefined;
  if (!isStrings(d.worldTypes) || !d.hooks || !EXPORTS.every((h) => typeof d.hooks[h] === 'string')) return undefined;
  if (typeof d.component !== 'string' || typeof d.componentKey !== 'string') return undefined;
  return d;
}

/**
 * The reference component (base64), once per process: from the build's file
 * when its component key is this installation's, else built with the
 * declarations (which needs wasm-tools and the glue generator).
 */
export function referenceComponent(file = REFERENCE_FILE): Promise<string> {
  let d: Partial<ReferenceDeclarations> | undefined;
  try {
    d = JSON.parse(readFileSync(file, 'utf8')) as Partial<ReferenceDeclarations>;
  } catch { /* no file: build it */ }
  if (d && d.componentKey === referenceComponentKey() && typeof d.component === 'string') return Promise.resolve(d.component);
  return referenceDeclarations().then((r) => r.component);
}

let declarations: Promise<ReferenceDeclarations> | undefined;

/** The reference declarations, once per process: from the build's file, else built from `wit/`. */
export function referenceDeclarations(): Promise<ReferenceDeclarations> {
  declarations ??= (async () => precomputedReference() ?? buildReferenceDeclarations())();
  declarations.catch(() => { declarations = undefined; });
  return declarations;
}

/** Declarations of the world itself, once per process. */
function referenceWorld(): Promise<Reference> {
  reference ??= (async () => {
    const d = await referenceDeclarations();
    return {
      interfaces: new Map(Object.entries(d.interfaces).map(([f, l]) => [f, new Set(l)])),
      hooks: new Map(EXPORTS.map((h) => [h, d.hooks[h]])),
      worldTypes: new Set(d.worldTypes),
    };
  })();
  return reference;
}

/**
 * Throws ForbiddenImportError or WrongWorldError unless `t` targets the world.
 * `granted` lists extra import names (e.g. WASI interfaces a sandbox grants).
 */
export async function checkWorld(t: Transpiled, where: string, granted: readonly string[] = []): Promise<void> {
  const allowed = new Set([...WORLD_IMPORTS, ...granted]);
  const forbidden = t.imports.filter((i) => !allowed.has(unversioned(i)));
  if (forbidden.length) {
    throw new ForbiddenImportError(
      `${where} imports ${forbidden.join(', ')}, outside the session-module world: modules get the ` +
        `handle's services (${WORLD_IMPORTS.join(', ')}) and nothing else unless a grant allows it.`,
      forbidden,
    );
  }
  const ref = await referenceWorld();
  const exported = new Set(t.exports.filter(([, kind]) => kind === 'function').map(([name]) => name));
  const missing = EXPORTS.filter((h) => !exported.has(h));
  if (missing.length) {
    throw new WrongWorldError(
      `${where} does not export ${missing.map(kebabCase).join(' and ')}: it was not built for the ` +
        `${WORLD_NAME} world (exports: ${[...exported].map(kebabCase).join(', ') || 'none'}).`,
    );
  }
  const lines = worldDts(t);
  for (const hook of EXPORTS) {
    if (hookLine(lines, hook) !== ref.hooks.get(hook)) {
      throw new WrongWorldError(
        `${where} exports ${kebabCase(hook)} with the wrong type (${hookLine(lines, hook)}); the ` +
          `${WORLD_NAME} world wants ${ref.hooks.get(hook)}.`,
      );
    }
  }
  const mismatch = (file: string, line: string) =>
    new WrongWorldError(`${where} uses a different version of ${file.replace(/^interfaces\/|\.d\.ts$/g, '')}: "${line}" is not in the ${WORLD_NAME} world.`);
  for (const line of lines.filter((l) => l.startsWith('export type '))) {
    if (!ref.worldTypes.has(line)) throw mismatch('the world', line);
  }
  for (const [file, text] of t.files) {
    const known = ref.interfaces.get(file);
    if (!file.startsWith('interfaces/') || !known) continue;
    for (const line of declarationLines(text)) if (!known.has(line)) throw mismatch(file, line);
  }
}
