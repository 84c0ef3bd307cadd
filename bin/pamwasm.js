#!/usr/bin/env node
// Thin launcher: the CLI is compiled from host/cli to dist/ by `npm run build`.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/host/cli/index.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('pamwasm: the host is not built yet; run `npm run build` (or `npm install`) in the pamwasm folder.\n');
  process.exit(2);
}
// A reader that stops early (`pamwasm run ... | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
// `pamwasm exec` starts at every login (pam_exec): it loads its own bundle,
// not the whole CLI, when `npm run build` has made it.
const execScript = new URL('../dist/pamwasm-exec.cjs', import.meta.url);
const execBundle = new URL('../dist/pamwasm-exec.mjs', import.meta.url);
if (process.argv[2] === 'exec' && existsSync(execScript)) {
  const { execMain, saveCodeCache } = runExecScript(fileURLToPath(execScript));
  process.exitCode = await execMain(process.argv.slice(3));
  saveCodeCache();
} else if (process.argv[2] === 'exec' && existsSync(execBundle)) {
  const { execMain } = await import(execBundle.href);
  process.exitCode = await execMain(process.argv.slice(3));
} else {
  const { main } = await import(entry.href);
  process.exitCode = await main(process.argv.slice(2));
}

/**
 * Runs dist/pamwasm-exec.cjs as a script with V8's code cache, kept beside it
 * in pamwasm-exec.cjs.codecache: a header line (the cache format, the
 * script's sha256 and node's version) and V8's data. V8 checks its own
 * version and flags but of the source only its length, so the header binds
 * the cache to this very script. The cache is taken only when it has the
 * script's owner and no one else may write it (it is code: it gets no more
 * trust than the script beside it), and it is written back, by rename, only by
 * the owner of the folder, after a run that found it missing, stale or
 * rejected: made after a run, it holds the functions that run compiled.
 */
function runExecScript(file) {
  const require = createRequire(import.meta.url);
  const fs = require('node:fs');
  const { Script } = require('node:vm');
  const { createHash } = require('node:crypto');
  const { dirname } = require('node:path');
  const source = fs.readFileSync(file, 'utf8');
  const cacheFile = `${file}.codecache`;
  const header = `pamwasm-exec-codecache 1 ${createHash('sha256').update(source).digest('hex')} ${process.version}\n`;
  let cachedData;
  try {
    const st = fs.statSync(cacheFile);
    const data = fs.readFileSync(cacheFile);
    if (st.uid === fs.statSync(file).uid && (st.mode & 0o022) === 0 && data.subarray(0, header.length).toString('latin1') === header) {
      cachedData = data.subarray(header.length);
    }
  } catch { /* no cache: compile */ }
  const script = new Script(`(function (exports, require, module, __filename, __dirname, __pw_import) {${source}\n})`, { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file), (specifier) => import(specifier));
  const saveCodeCache = () => {
    if (cachedData && !script.cachedDataRejected) return;
    try {
      const dir = dirname(file);
      if (typeof process.getuid === 'function' && fs.statSync(dir).uid !== process.getuid()) return;
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, Buffer.concat([Buffer.from(header, 'latin1'), script.createCachedData()]), { mode: 0o644 });
      fs.renameSync(tmp, cacheFile);
    } catch { /* a cache that cannot be written costs only time */ }
  };
  return { execMain: module.exports.execMain, saveCodeCache };
}
