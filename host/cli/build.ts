/** `pamwasm build`: a guest module folder (C or JS/TS) into a component. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCModule } from '../build/c.js';
import { buildJsModule } from '../build/js.js';
import { loadComponent } from '../loader/index.js';
import { usage } from './usage.js';

export const BUILD_HELP = `Usage: pamwasm build DIR [--out FILE]

Builds a guest module folder into a component: a folder with *.c files is
compiled with the C SDK (needs clang, lld and wasi-libc:
apt-get install -y clang lld wasi-libc); a folder with index.ts or index.js
is bundled and componentized with componentize-js (about 15 s; progress is
shown). The result is checked against the session-module world.

The build tools are optional packages: a build that needs one that is not
installed stops and prints the exact \`npm install\` line (C:
@bytecodealliance/jco-transpile; JS/TS: esbuild, componentize-js,
preview2-shim). Start a module with \`pamwasm new NAME --lang c|ts\`.

Options:
  --out FILE   where the component goes (default: ./<folder name>.wasm)`;

export async function buildCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { out: { type: 'string' }, help: { type: 'boolean' } }, allowPositionals: true });
  if (values.help) {
    console.log(BUILD_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw usage('build takes one module folder', 'build');
  const dir = resolve(positionals[0]);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw usage(`${positionals[0]} is not a folder`, 'build');
  const files = readdirSync(dir);
  const isC = files.some((f) => f.endsWith('.c'));
  const isJs = ['index.ts', 'index.js', 'package.json'].some((f) => files.includes(f));
  if (!isC && !isJs) {
    throw usage(`${positionals[0]} holds neither *.c files nor an index.ts / index.js to build`, 'build');
  }
  const out = resolve(values.out ?? `${basename(dir)}.wasm`);
  const started = performance.now();
  const progress = (msg: string) => process.stderr.write(`${msg}\n`);
  progress(`building ${basename(dir)} (${isC ? 'C' : 'JS/TS'}) into ${out}`);
  const bytes = isC ? await buildCModule(dir, out, { onProgress: progress }) : await buildJsModule(dir, out, { onProgress: progress });
  const m = await loadComponent(bytes);
  console.log(`${out}: ${bytes.length} bytes, sha256=${m.sha256}, ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}
