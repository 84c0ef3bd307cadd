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
 */
import { ForbiddenImportError, WrongWorldError } from '../errors/index.js';
import { WORLD_IMPORTS, WORLD_NAME, witSource } from '../wit/index.js';
import { transpileComponent, type Transpiled } from './transpile.js';

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

/** Declarations of the world itself, made once per process from `wit/`. */
function referenceWorld(): Promise<Reference> {
  reference ??= (async () => {
    // Imported here, not at the top: a process that loads every component
    // from the disk cache never checks a world and never needs wasm-tools.
    const { componentEmbed, componentNew } = await import('@bytecodealliance/jco-transpile/wasm-tools');
    const embedded = await componentEmbed({ dummy: true, witSource: witSource(), world: WORLD_NAME });
    const t = await transpileComponent(await componentNew(embedded));
    const interfaces = new Map<string, Set<string>>();
    for (const [file, text] of t.files) {
      if (file.startsWith('interfaces/')) interfaces.set(file, new Set(declarationLines(text)));
    }
    const lines = worldDts(t);
    const hooks = new Map(EXPORTS.map((h) => [h, hookLine(lines, h)!]));
    return { interfaces, hooks, worldTypes: new Set(lines.filter((l) => l.startsWith('export type '))) };
  })();
  return reference;
}

/**
 * Throws ForbiddenImportError or WrongWorldError unless `t` targets the world.
 * `granted` lists extra import names (e.g. WASI interfaces a sandbox grants).
 */
export async function checkWorld(t: Transpiled, where: string, granted: readonly string[] = []): Promise<void> {
  const allowed = new Set([...WORLD_IMPORTS, ...granted]);
  const forbidden = t.imports.filter((i) => !allowed.has(i.replace(/@[^/]*$/, '')));
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
      `${where} does not export ${missing.map(kebab).join(' and ')}: it was not built for the ` +
        `${WORLD_NAME} world (exports: ${[...exported].map(kebab).join(', ') || 'none'}).`,
    );
  }
  const lines = worldDts(t);
  for (const hook of EXPORTS) {
    if (hookLine(lines, hook) !== ref.hooks.get(hook)) {
      throw new WrongWorldError(
        `${where} exports ${kebab(hook)} with the wrong type (${hookLine(lines, hook)}); the ` +
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

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
