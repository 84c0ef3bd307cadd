/**
 * Bundles `pamwasm exec` into one file, dist/pamwasm-exec.mjs, for the
 * process pam_exec starts at every login: one file to read instead of some
 * sixty, and only what exec needs. Packages stay outside the bundle
 * (better-sqlite3 is native; jco's glue generator and jco-transpile find
 * their own wasm next to themselves and are loaded only when a component is
 * not in the disk cache), and
 * resolve from the package's node_modules, since the bundle lives in dist/.
 *
 *   node dist/host/build/bundle-exec.js     (part of `npm run build`)
 */
import { build, type Plugin } from 'esbuild';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../wit/index.js';

export const EXEC_BUNDLE = join(packageRoot(), 'dist', 'pamwasm-exec.mjs');
/**
 * The same code as CommonJS, which bin/pamwasm.js compiles as a script with
 * V8's code cache (node 20 has none for ES modules): the ES module loader's
 * facades of node:fs and node:crypto, translating the bundle and compiling
 * its functions again at every login cost about 7 ms. A script run by
 * vm.Script has no dynamic import() of its own, so the bundle's import()
 * calls go to `__pw_import`, which bin/pamwasm.js passes in, with
 * `__pw_script_sha256`, the sha256 of the script it read (the disk cache's
 * key takes it as PAMWASM_SCRIPT_SHA256: host/loader/cache.ts).
 */
export const EXEC_SCRIPT = join(packageRoot(), 'dist', 'pamwasm-exec.cjs');

/**
 * The owner and mode rule (host/sandbox/policy/owner.ts, which imports
 * nothing) alone, as CommonJS: bin/pamwasm.js requires it to judge the exec
 * script's code cache before it runs anything from dist/.
 */
export const OWNER_RULE = join(packageRoot(), 'dist', 'owner-rule.cjs');

/**
 * The CommonJS script takes better-sqlite3's JavaScript in (about 4 ms of
 * loading a dozen files at every login, outside the code cache otherwise);
 * its native addon stays outside, loaded by its path (host/sessions/registry.ts),
 * and every other package stays outside, as in the ES module bundle.
 * registry.ts loads better-sqlite3 through createRequire (see there), which
 * esbuild cannot follow: here it reads `require`.
 */
const bundleBetterSqlite3: Plugin = {
  name: 'bundle-better-sqlite3',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path === 'better-sqlite3' || args.path.startsWith('node:')) return undefined;
      return { path: args.path, external: true };
    });
    b.onLoad({ filter: /[\\/]host[\\/]sessions[\\/]registry\.ts$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const contents = source.replace("requireHere('better-sqlite3')", "require('better-sqlite3')");
      if (contents === source) throw new Error(`${args.path}: requireHere('better-sqlite3') not found; update host/build/bundle-exec.ts.`);
      return { contents, loader: 'ts' };
    });
  },
};

/** What must never be in the bundle: the libpam bridge (koffi) and the CLI table. */
const FORBIDDEN = [/host\/libpam\//, /host\/cli\/index\.ts$/, /host\/build\//, /koffi/];

export async function bundleExec(): Promise<{ outfile: string; bytes: number; inputs: string[] }> {
  const root = packageRoot();
  const outfile = EXEC_BUNDLE;
  const result = await build({
    entryPoints: [join(root, 'host', 'cli', 'exec-entry.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  await build({
    entryPoints: [join(root, 'host', 'cli', 'exec.ts')],
    outfile: EXEC_SCRIPT,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    plugins: [bundleBetterSqlite3],
    legalComments: 'none',
    logLevel: 'warning',
    define: { 'import.meta.url': '__pw_import_meta_url', 'import.meta.resolve': '__pw_import_meta_resolve', PAMWASM_SCRIPT_SHA256: '__pw_script_sha256' },
    banner: {
      js: 'const __pw_import_meta_url = require("node:url").pathToFileURL(__filename).href;\n'
        + 'const __pw_import_meta_resolve = (s) => require("node:url").pathToFileURL(require.resolve(s)).href;',
    },
  });
  await build({
    entryPoints: [join(root, 'host', 'sandbox', 'policy', 'owner.ts')],
    outfile: OWNER_RULE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    legalComments: 'none',
    logLevel: 'warning',
  });
  const script = readFileSync(EXEC_SCRIPT, 'utf8');
  const dynamic = script.match(/\bimport\(/g)?.length ?? 0;
  const routed = script.replace(/\bimport\(/g, '__pw_import(');
  if (dynamic === 0 || /\bimport\s*\(/.test(routed) || /\bimport\.meta\b/.test(routed)) throw new Error(`${EXEC_SCRIPT}: unexpected import() or import.meta left in the CommonJS bundle.`);
  writeFileSync(EXEC_SCRIPT, routed);
  const inputs = Object.keys(result.metafile.inputs);
  const bad = inputs.filter((i) => FORBIDDEN.some((f) => f.test(i)));
  if (bad.length) throw new Error(`the exec bundle must not hold ${bad.join(', ')}: it would load at every login; import something smaller.`);
  return { outfile, bytes: statSync(outfile).size, inputs };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { outfile, bytes, inputs } = await bundleExec();
  console.error(`bundled pamwasm exec: ${relative(process.cwd(), outfile) || outfile} (${(bytes / 1024).toFixed(0)} KB, ${inputs.length} sources)`);
}
