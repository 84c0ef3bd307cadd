/**
 * The host's and the C SDK's copies of the world's names, generated from
 * `wit/`: the package and its version, and the cases of every enum and
 * flags type (the status list, items, syslog priorities, prompt styles,
 * session flags). What a module sends as a case index means what `wit/`
 * says only if both sides count the cases the same way; written from the
 * WIT, they cannot drift apart.
 *
 * Two files are generated and committed (so that a build without this
 * step, and the guests' byte-identical rebuild, see the same text):
 *  - host/wit/bindings.ts: the names as TypeScript constants and types;
 *  - guest-modules/sdk/c/src/wit.h: the cases as C enums, the flags as
 *    bits, the version as a string for the import names, and compile-time
 *    checks that each status case is its PAM_* code and each priority its
 *    LOG_* level.
 * test/wit/bindings.test.ts fails when the committed files are not what
 * `wit/` generates.
 *
 *   npm run wit-bindings        (after changing wit/: compile, then write both files)
 *   node dist/host/build/wit-bindings.js --check    (part of `npm run build`: exits 1 on drift)
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pamMacroName } from '../codes/index.js';
import { packageRoot } from '../wit/index.js';

/** A WIT enum or flags type: its name, the file it is in, and its cases in order. */
export interface WitNamed { kind: 'enum' | 'flags'; name: string; file: string; cases: string[] }

export interface WitNames {
  /** `pamwasm:session` */
  package: string;
  /** `0.1.0` */
  version: string;
  types: WitNamed[];
}

/** Reads the package line and every enum and flags type of the `.wit` files in `dir`. */
export function readWitNames(dir: string): WitNames {
  let pkg: string | undefined;
  const types: WitNamed[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.wit')).sort()) {
    const text = readFileSync(join(dir, file), 'utf8').replace(/\/\/[^\n]*/g, '');
    const p = /\bpackage\s+([a-z][a-z0-9-]*:[a-z][a-z0-9-]*)@([0-9A-Za-z.+-]+)\s*;/.exec(text);
    if (!p) throw new Error(`${file}: no \`package <namespace>:<name>@<version>;\` line.`);
    const here = `${p[1]}@${p[2]}`;
    if (pkg !== undefined && pkg !== here) throw new Error(`${file}: package ${here}, where the other files say ${pkg}.`);
    pkg = here;
    for (const m of text.matchAll(/\b(enum|flags)\s+(%?[a-z][a-z0-9-]*)\s*\{([^}]*)\}/g)) {
      const cases = m[3].split(',').map((c) => c.trim().replace(/^%/, '')).filter(Boolean);
      if (!cases.every((c) => /^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$/.test(c))) throw new Error(`${file}: ${m[1]} ${m[2]} has a case that is not a kebab-case name.`);
      types.push({ kind: m[1] as WitNamed['kind'], name: m[2].replace(/^%/, ''), file, cases });
    }
  }
  if (pkg === undefined) throw new Error(`${dir}: no .wit files.`);
  const at = pkg.indexOf('@');
  return { package: pkg.slice(0, at), version: pkg.slice(at + 1), types };
}

/**
 * The host's names for the world's types: the names the host used before
 * they were generated. A type not listed gets `WIT_<NAME>` and `Wit<Name>`.
 */
const HOST_NAMES: Record<string, [constant: string, type: string]> = {
  status: ['WIT_STATUSES', 'WitStatus'],
  item: ['WIT_ITEMS', 'WitItem'],
  priority: ['WIT_PRIORITIES', 'WitPriority'],
  'prompt-style': ['PROMPT_STYLES', 'PromptStyle'],
  'session-flags': ['SESSION_FLAGS', 'SessionFlag'],
};

const upper = (kebab: string) => kebab.replace(/-/g, '_').toUpperCase();
const pascal = (kebab: string) => kebab.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('');

/** Items joined by commas, on lines of at most about 100 characters when there are many. */
function wrap(items: string[]): string {
  const one = items.join(', ');
  if (one.length <= 80) return one;
  const lines: string[] = [];
  for (const item of items) {
    if (lines.length && lines[lines.length - 1].length + item.length < 96) lines[lines.length - 1] += ` ${item},`;
    else lines.push(`  ${item},`);
  }
  return `\n${lines.join('\n')}\n`;
}

const HEADER = 'Generated from wit/ by host/build/wit-bindings.ts: do not edit; after changing wit/, run `npm run wit-bindings`.';

/** host/wit/bindings.ts for `names`. */
export function typescriptBindings(names: WitNames): string {
  const out = [`// ${HEADER}`, '', `/** The WIT package, without its version. */`, `export const WIT_PACKAGE = '${names.package}';`,
    `/** The WIT package's version, as every import name carries it (\`${names.package}/log@${names.version}\`). */`, `export const WIT_VERSION = '${names.version}';`];
  for (const t of names.types) {
    const [constant, type] = HOST_NAMES[t.name] ?? [`WIT_${upper(t.name)}`, `Wit${pascal(t.name)}`];
    const what = t.kind === 'enum' ? 'enum\'s cases, in order (a case\'s index is its number on the wire)' : 'flags, in order (flag i is bit i)';
    out.push('', `/** The \`${t.name}\` ${what}: wit/${t.file}. */`,
      `export const ${constant} = [${wrap(t.cases.map((c) => `'${c}'`))}] as const;`,
      `export type ${type} = (typeof ${constant})[number];`);
  }
  return `${out.join('\n')}\n`;
}

/** guest-modules/sdk/c/src/wit.h for `names`. */
export function cBindings(names: WitNames): string {
  const out = [`/* ${HEADER} */`, '#ifndef PAMWASM_WIT_H', '#define PAMWASM_WIT_H', '',
    '#include <security/_pam_types.h>', '#include <syslog.h>', '',
    `#define PAMWASM_WIT_PACKAGE "${names.package}"`, `#define PAMWASM_WIT_VERSION "${names.version}"`];
  for (const t of names.types) {
    const prefix = `WIT_${upper(t.name)}`;
    out.push('', `/* WIT \`${t.name}\` (wit/${t.file}). */`);
    if (t.kind === 'flags') {
      t.cases.forEach((c, i) => out.push(`#define ${prefix}_${upper(c)} 0x${(1 << i).toString(16)}u`));
      continue;
    }
    out.push(`enum wit_${t.name.replace(/-/g, '_')} {`, ...t.cases.map((c, i) => `    ${prefix}_${upper(c)} = ${i},`), `    ${prefix}_COUNT = ${t.cases.length}`, '};');
  }
  // A case index is what the host reads as a PAM code or a syslog level.
  const check = (t: WitNamed | undefined, macro: (c: string) => string) =>
    (t?.cases ?? []).map((c) => `_Static_assert(WIT_${upper(t!.name)}_${upper(c)} == ${macro(c)}, "${t!.name} ${c} is ${macro(c)}");`);
  const find = (name: string) => names.types.find((t) => t.kind === 'enum' && t.name === name);
  out.push('', ...check(find('status'), pamMacroName), ...check(find('priority'), (c) => `LOG_${upper(c)}`), '', '#endif /* PAMWASM_WIT_H */');
  return `${out.join('\n')}\n`;
}

/** The generated files, by path from the package root, for the `wit/` in `witDir`. */
export function witBindings(witDir = join(packageRoot(), 'wit')): Map<string, string> {
  const names = readWitNames(witDir);
  return new Map([
    [join('host', 'wit', 'bindings.ts'), typescriptBindings(names)],
    [join('guest-modules', 'sdk', 'c', 'src', 'wit.h'), cBindings(names)],
  ]);
}

/** The committed files that differ from what `wit/` generates, by path from the package root. */
export function staleBindings(root = packageRoot()): string[] {
  const stale: string[] = [];
  for (const [file, text] of witBindings(join(root, 'wit'))) {
    let now: string | undefined;
    try {
      now = readFileSync(join(root, file), 'utf8');
    } catch { /* missing: stale */ }
    if (now !== text) stale.push(file);
  }
  return stale;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // --root <dir>: another package's wit/ and generated files (the tests check a copy).
  const at = process.argv.indexOf('--root');
  const root = at > 0 && process.argv[at + 1] ? process.argv[at + 1] : packageRoot();
  if (process.argv.includes('--check')) {
    const stale = staleBindings(root);
    if (stale.length) {
      console.error(`${stale.join(' and ')} ${stale.length > 1 ? 'are' : 'is'} not what wit/ generates: run \`npm run wit-bindings\` and commit the result.`);
      process.exit(1);
    }
    console.error('wit bindings: up to date');
  } else {
    const files = witBindings(join(root, 'wit'));
    for (const [file, text] of files) writeFileSync(join(root, file), text);
    console.error(`wrote ${[...files.keys()].map((f) => relative(process.cwd(), join(root, f)) || f).join(', ')}`);
  }
}
