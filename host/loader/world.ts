/**
 * The one world check: does a component target the session-module world?
 * Both load paths ask it, with the component's face (component/face.ts:
 * its imports and exports with their structural types) and the world's,
 * read the same way from the reference component that `wit/` makes
 * (component/reference.ts). The fast path asks it before planning, and
 * leaves whatever it refuses to the jco path, which asks it again after
 * jco has validated the whole component, so a refusal has one code and one
 * message on both paths.
 *
 * The rules, deny by default:
 *  - every import is an interface of the world (WORLD_IMPORTS) or one the
 *    caller grants, but for interfaces imported for their value types
 *    alone, which give nothing to call
 *    (granted WASI interfaces are named, not typed: the sandbox's host
 *    functions check what they are given), else ForbiddenImportError;
 *  - both session hooks are exported functions with the world's types,
 *    else WrongWorldError;
 *  - each interface of the world that is imported has the world's version,
 *    and each of its functions and types the world's type; each type the
 *    component imports by name (the world's `use`) is the world's.
 * Types are compared as trees (component/types.ts `typeKey`): a `status`
 * enum with another case, a record with another field, a flags type with
 * the same names in another order all differ, whatever they are named.
 */
import { ForbiddenImportError, WrongWorldError } from '../errors/index.js';
import { WORLD_IMPORTS, WORLD_NAME } from '../wit/index.js';
import { Unrecognized } from './component/binary.js';
import { readFace, type Face } from './component/face.js';
import { worldFace } from './component/reference.js';
import { typeKey, unwrap, type FuncType, type InstanceExport, type ValType } from './component/types.js';
import { unversioned } from './names.js';

/** The session hooks, as the world names them. */
export const HOOKS = ['open-session', 'close-session'] as const;

/**
 * Throws ForbiddenImportError or WrongWorldError unless the component whose
 * face is `c`, loaded from `where`, targets the world whose face is `world`.
 * `granted` lists extra interfaces (without version) a sandbox allows.
 */
export function checkWorld(c: Face, world: Face, where: string, granted: readonly string[] = []): void {
  // The world's interfaces: those with functions (WORLD_IMPORTS) and `types`.
  const own = new Set([...world.instances.keys()].map(unversioned));
  const allowed = new Set([...WORLD_IMPORTS, ...granted]);
  // An interface imported for its value types alone (no function, no
  // resource) gives nothing to call: it is no capability (the host passes
  // nothing for it), as jco's glue has it.
  const capabilities = [...c.instances].filter(([, exports]) => [...exports.values()].some(isCapability)).map(([n]) => n);
  const imports = [...capabilities, ...c.otherImports];
  const forbidden = [...new Set(imports.map(unversioned).filter((i) => !allowed.has(i)))].sort();
  if (forbidden.length) {
    throw new ForbiddenImportError(
      `${where} imports ${forbidden.join(', ')}, outside the session-module world: modules get the ` +
        `handle's services (${WORLD_IMPORTS.join(', ')}) and nothing else unless a grant allows it.`,
      forbidden,
    );
  }
  const missing = HOOKS.filter((h) => !c.funcs.has(h));
  if (missing.length) {
    const exported = [...c.funcs.keys(), ...c.otherExports];
    throw new WrongWorldError(
      `${where} does not export ${missing.join(' and ')}: it was not built for the ` +
        `${WORLD_NAME} world (exports: ${exported.join(', ') || 'none'}).`,
    );
  }
  for (const hook of HOOKS) {
    const want = world.funcs.get(hook)!;
    const have = c.funcs.get(hook)!;
    if (typeKey(have) !== typeKey(want)) {
      // Named types by their names, or, where the names are the same, by what they are.
      const shown = witFunc(have) === witFunc(want);
      throw new WrongWorldError(`${where} exports ${hook} with the wrong type (${witFunc(have, shown)}); the ${WORLD_NAME} world wants ${witFunc(want, shown)}.`);
    }
  }
  const mismatch = (what: string, item: string) =>
    new WrongWorldError(`${where} uses a different version of ${what}: its ${item} is not the ${WORLD_NAME} world's.`);
  for (const [name, exports] of c.instances) {
    if (!own.has(unversioned(name))) continue;
    const ref = world.instances.get(name);
    if (!ref) throw mismatch(unversioned(name), `version (${name})`);
    for (const [item, e] of exports) {
      const want = ref.get(item);
      if (!want || typeKey(want) !== typeKey(e)) throw mismatch(unversioned(name), `${e.sort === 'func' ? 'function' : 'type'} ${item}${e.sort === 'func' ? `: ${witFunc(e.type)}` : ''}`);
    }
  }
  for (const [name, t] of c.typeImports) {
    const want = world.typeImports.get(name);
    if (!want || typeKey(want) !== typeKey(t)) throw mismatch('the world', `type ${witType(t, true)}`);
  }
}

/**
 * The world check of a whole component (`bytes`, from `where`) that jco has
 * validated: its face read leniently (component/face.ts). A valid component
 * whose face this reader cannot read is refused (fail closed), as one that
 * is not of the world.
 */
export async function checkComponentWorld(bytes: Uint8Array, where: string, granted: readonly string[] = []): Promise<void> {
  const face = readableFace(bytes);
  if (face instanceof Unrecognized) {
    throw new WrongWorldError(`${where}: its imports and exports cannot be read as a ${WORLD_NAME} component's (${face.message}); build it for the ${WORLD_NAME} world (wit/).`);
  }
  checkWorld(face, await worldFace(), where, granted);
}

/**
 * The world check of a component whose face can be read, before anything
 * else is done with it (no glue generated for a component the check
 * refuses); one whose face cannot be read is left to checkComponentWorld,
 * after jco has said whether it is malformed.
 */
export async function checkReadableWorld(bytes: Uint8Array, where: string, granted: readonly string[] = []): Promise<boolean> {
  const face = readableFace(bytes);
  if (face instanceof Unrecognized) return false;
  checkWorld(face, await worldFace(), where, granted);
  return true;
}

function readableFace(bytes: Uint8Array): Face | Unrecognized {
  try {
    return readFace(bytes);
  } catch (e) {
    if (!(e instanceof Unrecognized)) throw e;
    return e;
  }
}

/** A function, or a resource (whose handles the host would implement). */
function isCapability(e: InstanceExport): boolean {
  if (e.sort === 'func') return true;
  const t = unwrap(e.type);
  return t.k === 'other' && t.what === 'resource';
}

/** A function type in WIT's words, for messages; with `detailed`, each named type with what it is. */
export function witFunc(f: FuncType, detailed = false): string {
  const type = (t: ValType) => witType(t, detailed);
  return `func(${f.params.map(([n, t]) => `${n}: ${type(t)}`).join(', ')})${f.result ? ` -> ${type(f.result)}` : ''}`;
}

/** A value type in WIT's words: a named type by its name (with `detailed`, and what it is). */
function witType(t: ValType, detailed = false): string {
  switch (t.k) {
    case 'prim': return t.t;
    case 'named': return detailed ? `${t.name} (${witType(unwrap(t.of))})` : t.name;
    case 'list': return `list<${witType(t.of)}>`;
    case 'option': return `option<${witType(t.of)}>`;
    case 'result': return `result<${t.ok ? witType(t.ok) : '_'}, ${t.err ? witType(t.err) : '_'}>`;
    case 'record': return `record { ${t.fields.map(([n, f]) => `${n}: ${witType(f)}`).join(', ')} }`;
    case 'flags': return `flags { ${t.names.join(', ')} }`;
    case 'enum': return `enum { ${t.cases.join(', ')} }`;
    case 'other': return t.what;
  }
}
