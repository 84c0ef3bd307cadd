/**
 * Optional packages: what loading and running modules need is a dependency
 * of the package; the tools that only build modules (esbuild,
 * componentize-js, wasm-tools) and jco's glue generator (for components the
 * loader does not plan itself) are optional peer dependencies, together
 * about 400 MB that a host running prebuilt modules never uses. A feature
 * that needs one asks here first, and a missing one is named with the exact
 * `npm install` line, versions from this package's `peerDependencies`.
 *
 * @example
 *   requireFeature('js-build');   // throws MissingDependencyError (ERR_PAMWASM_MISSING_DEPENDENCY) naming the install line
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MissingDependencyError } from '../errors/index.js';
import { packageRoot } from '../wit/index.js';

/** A feature and the packages it needs, each with the specifier probed to tell whether it resolves. */
const FEATURES = {
  'js-build': {
    what: 'building a JS/TS module',
    packages: [
      ['esbuild', 'esbuild'],
      ['@bytecodealliance/componentize-js', '@bytecodealliance/componentize-js'],
      // componentize-js imports the shim without declaring it (only as its
      // dev dependency): installed next to it, at the top of the app's tree,
      // it resolves; npm may otherwise nest it where componentize-js cannot see it.
      ['@bytecodealliance/preview2-shim', '@bytecodealliance/preview2-shim/filesystem'],
    ],
  },
  'c-build': {
    what: 'building a C module',
    packages: [['@bytecodealliance/jco-transpile', '@bytecodealliance/jco-transpile/wasm-tools']],
  },
  'c-wasi-build': {
    what: 'building a C module with "wasi": true (it links jco\'s WASI preview1 adapter)',
    packages: [['@bytecodealliance/jco-glue', '@bytecodealliance/jco-glue/component']],
  },
  'jco-glue': {
    what: 'loading a component that is not of exactly the session-module world\'s shape (WASI grants, other shapes)',
    packages: [['@bytecodealliance/jco-glue', '@bytecodealliance/jco-glue/component']],
  },
} as const satisfies Record<string, { what: string; packages: readonly (readonly [string, string])[] }>;

export type Feature = keyof typeof FEATURES;

let peers: Record<string, string> | undefined;

/** This package's `peerDependencies` (name to version range). */
export function peerVersions(): Record<string, string> {
  peers ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).peerDependencies ?? {}) as Record<string, string>;
  return peers;
}

/** Whether `specifier` resolves from this package, as its own imports would. */
export function resolvable(specifier: string): boolean {
  try {
    import.meta.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

/** The `npm install` line that adds `packages` at the versions this package was made with. */
export function installLine(packages: readonly string[]): string {
  const versions = peerVersions();
  return `npm install ${packages.map((p) => (versions[p] ? `${p}@${versions[p]}` : p)).join(' ')}`;
}

/** The packages `feature` needs that do not resolve (empty when it can run). */
export function missingFor(feature: Feature): string[] {
  return FEATURES[feature].packages.filter(([, probe]) => !resolvable(probe)).map(([name]) => name);
}

/** The error for `packages` missing for `feature`. */
export function missingDependency(feature: Feature, packages: readonly string[], cause?: unknown): MissingDependencyError {
  const line = installLine(packages);
  const list = packages.join(', ');
  return new MissingDependencyError(
    `${FEATURES[feature].what} needs ${list}, which ${packages.length > 1 ? 'are' : 'is'} not installed (optional: a host that runs built modules does without); run \`${line}\`.`,
    [...packages],
    line,
    cause === undefined ? undefined : { cause },
  );
}

/** Throws MissingDependencyError naming every package `feature` needs and cannot find. */
export function requireFeature(feature: Feature): void {
  const missing = missingFor(feature);
  if (missing.length > 0) throw missingDependency(feature, missing);
}

/** Every optional package of every feature, for the docs and tests. */
export function optionalPackages(): Record<Feature, string[]> {
  return Object.fromEntries(Object.entries(FEATURES).map(([f, d]) => [f, d.packages.map(([name]) => name)])) as Record<Feature, string[]>;
}
