/** `pamwasm inspect`: what a module is, and what it would get, before running it. */
import { parseArgs } from 'node:util';
import { loadComponent } from '../loader/index.js';
import { WIT_PACKAGE, WIT_VERSION, WORLD_NAME } from '../wit/index.js';
import { bold, table } from './output.js';
import { usage } from './usage.js';

export const INSPECT_HELP = `Usage: pamwasm inspect MODULE.wasm [--json]

Checks a module against the session-module world and shows its world,
exports, imports, size, sha256 (for pinning) and what it would be granted.`;

export async function inspectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, help: { type: 'boolean' } }, allowPositionals: true });
  if (values.help) {
    console.log(INSPECT_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw usage('inspect takes one module path', 'inspect');
  const path = positionals[0];
  const m = await loadComponent(path);
  const info = {
    path,
    world: `${WIT_PACKAGE}/${WORLD_NAME}@${WIT_VERSION}`,
    exports: m.exports,
    imports: m.imports,
    size: m.size,
    sha256: m.sha256,
    coreModules: m.coreModules,
    // Deny by default: a module gets the world's imports and nothing else.
    grants: { directories: [], clocks: false, random: false, network: false },
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
    [bold('grants'), 'none: no files, clocks, randomness or network'],
  ]));
  return 0;
}
