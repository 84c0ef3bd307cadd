/** `pamwasm inspect`: what a module is, and what it would get, before running it. */
import { parseArgs } from 'node:util';
import { missingHooksOfFile } from '../loader/core-names.js';
import { loadComponent } from '../loader/index.js';
import { GRANTABLE_IMPORTS, grantsNeeded } from '../sandbox/index.js';
import { WIT_PACKAGE, WIT_VERSION, WORLD_NAME } from '../wit/index.js';
import { bold, table } from './output.js';
import { usage } from './usage.js';

export const INSPECT_HELP = `Usage: pamwasm inspect MODULE.wasm [--json]

Checks a module against the session-module world and shows its world,
exports, imports, size, sha256 (for pinning), the grants its stack line must
give it (read=DIR, clocks, random) and C hooks that are missing.`;

export async function inspectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, help: { type: 'boolean' } }, allowPositionals: true });
  if (values.help) {
    console.log(INSPECT_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw usage('inspect takes one module path', 'inspect');
  const path = positionals[0];
  // WASI imports that a grant could allow are listed, not refused: which
  // grants to write is what the author came to find out.
  const m = await loadComponent(path, { allowImports: GRANTABLE_IMPORTS });
  const needed = grantsNeeded(m.imports);
  const hooks = missingHooksOfFile(path);
  const info = {
    path,
    world: `${WIT_PACKAGE}/${WORLD_NAME}@${WIT_VERSION}`,
    exports: m.exports,
    imports: m.imports,
    size: m.size,
    sha256: m.sha256,
    coreModules: m.coreModules,
    // Deny by default: a module gets the world's imports and nothing else
    // unless its stack line grants these.
    grants: needed,
    ...(hooks ? { problems: [hooks] } : {}),
  };
  if (values.json) {
    console.log(JSON.stringify(info));
    return 0;
  }
  console.log(table([
    [bold('module'), path],
    [bold('world'), info.world],
    [bold('exports'), info.exports.join(', ')],
    [bold('imports'), info.imports.join(', ') || '(none)'],
    [bold('size'), `${info.size} bytes (${m.coreModules.length} core module${m.coreModules.length === 1 ? '' : 's'})`],
    [bold('sha256'), info.sha256],
    [bold('grants'), needed.length ? `needs ${needed.join(' ')} on its stack line` : 'needs none: no files, clocks, randomness or network'],
    ...(hooks ? [[bold('problem'), `${hooks}: its line would return PAM_MODULE_UNKNOWN`]] : []),
  ]));
  return 0;
}
