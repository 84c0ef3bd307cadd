/** `pamwasm build`: a guest module folder (C or JS/TS) into a component. */
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCModule } from '../build/c.js';
import { buildJsModule } from '../build/js.js';
import { PamwasmError } from '../errors/index.js';
import { loadComponent } from '../loader/index.js';
import { GRANTABLE_IMPORTS, grantsNeeded } from '../sandbox/index.js';
import { usage } from './usage.js';

export const BUILD_HELP = `Usage: pamwasm build DIR [--out FILE|DIR]

Builds a guest module folder into a component: a folder with *.c files is
compiled with the C SDK (needs clang, lld and wasi-libc:
apt-get install -y clang lld wasi-libc); a folder with index.ts or index.js
is bundled and componentized with componentize-js (about 15 s; progress is
shown). The result is checked against the session-module world before it is
written: a refused build leaves no file.

The build tools are optional packages: a build that needs one that is not
installed stops and prints the exact \`npm install\` line (C:
@bytecodealliance/jco-transpile; JS/TS: esbuild, componentize-js,
preview2-shim). Start a module with \`pamwasm new NAME --lang c|ts\`.

Options:
  --out FILE   where the component goes (default: ./<folder name>.wasm);
               an existing folder gets <folder name>.wasm inside it`;

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
  const fileName = `${basename(dir)}.wasm`;
  let out = resolve(values.out ?? fileName);
  if (existsSync(out) && statSync(out).isDirectory()) out = join(out, fileName);
  const started = performance.now();
  // Built beside the output and renamed into place only once it loads: a
  // refused module never replaces a good one, nor leaves a file behind.
  const tmp = `${out}.${process.pid}.tmp`;
  const progress = (msg: string) => process.stderr.write(`${msg.replaceAll(tmp, out)}\n`);
  progress(`building ${basename(dir)} (${isC ? 'C' : 'JS/TS'}) into ${out}`);
  try {
    const bytes = isC ? await buildCModule(dir, tmp, { onProgress: progress }) : await buildJsModule(dir, tmp, { onProgress: progress });
    let m;
    try {
      m = await loadComponent(bytes, { allowImports: GRANTABLE_IMPORTS });
    } catch (e) {
      if (e instanceof PamwasmError) e.message = e.message.replaceAll('<bytes>', basename(out));
      throw e;
    }
    renameSync(tmp, out);
    const grants = grantsNeeded(m.imports);
    console.log(`${out}: ${bytes.length} bytes, sha256=${m.sha256}, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (grants.length) console.log(`grants it needs on its stack line: ${grants.join(' ')}`);
    return 0;
  } finally {
    rmSync(tmp, { force: true });
  }
}
