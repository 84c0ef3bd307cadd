/** `pamwasm new NAME --lang c|ts`: writes a module folder that builds, runs and tests at once. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { moduleFiles, type Lang } from './new-templates.js';
import { usage } from './usage.js';

export const NEW_HELP = `Usage: pamwasm new NAME --lang c|ts [--dir DIR]

Writes the folder DIR/NAME (default ./NAME) with a session module that has
both hooks, a README, NAME.stack that runs it, NAME.test.mjs (node:test,
through pamwasm/testing) and, for TS, a tsconfig.json wired to pamwasm/sdk.
Then:
  npx pamwasm build NAME
  npx pamwasm run --stack NAME/NAME.stack --module-dir . --service login --user alice
  node --test NAME/

Options:
  --lang c|ts   the module's language (required)
  --dir DIR     the folder to create it in (default: the current one)

NAME starts with a lower-case letter, then lower-case letters, digits or _
(at most 64): it names the folder, the .wasm file and C symbols alike.`;

const NAME = /^[a-z][a-z0-9_]{0,63}$/;

export async function newCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, options: { lang: { type: 'string' }, dir: { type: 'string' }, help: { type: 'boolean' } }, allowPositionals: true,
  });
  if (values.help) {
    console.log(NEW_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw usage('new takes one module name', 'new');
  const [name] = positionals;
  if (!NAME.test(name)) {
    throw usage(`"${name}" is not a module name: use a lower-case letter, then lower-case letters, digits or _ (e.g. pam_hello)`, 'new');
  }
  if (values.lang !== 'c' && values.lang !== 'ts') {
    throw usage(values.lang === undefined ? 'new needs --lang c or --lang ts' : `--lang must be c or ts, not "${values.lang}"`, 'new');
  }
  const folder = resolve(values.dir ?? '.', name);
  if (existsSync(folder)) throw usage(`${folder} already exists; pick another name or remove it (nothing was written)`, 'new');
  mkdirSync(folder, { recursive: true });
  const files = moduleFiles(name, values.lang as Lang);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(folder, file), text, { flag: 'wx' });
  console.log(`wrote ${folder}/ (${Object.keys(files).sort().join(', ')})`);
  console.log(`next: npx pamwasm build ${name} && npx pamwasm run --stack ${name}/${name}.stack --module-dir . --service login --user alice`);
  return 0;
}
