#!/usr/bin/env node
// Thin launcher: the CLI is compiled from host/cli to dist/ by `npm run build`.
// CommonJS (bin/package.json), not an ES module: node then starts it without
// its ES module loader, which `pamwasm exec` never needs (about 3 ms at every
// login); the CLI, an ES module, is loaded by import().
'use strict';
const fs = require('node:fs');
const { dirname, join } = require('node:path');
const { pathToFileURL } = require('node:url');

/**
 * V8's code cache of the exec script, if `data` (the cache file's bytes) may
 * be used: it starts with `header` (the cache format, the script's sha256 and
 * node's version), and the cache file (`cacheStat`) has the script's
 * (`scriptStat`) owner and is writable by no one else. V8 checks its own
 * version and flags but of the source only its length, so the header binds
 * the cache to this very script; and it is code: it gets no more trust than
 * the script beside it. Undefined when it may not be used.
 */
function usableCodeCache(data, header, cacheStat, scriptStat) {
  const rule = ownerRule();
  if (!rule || rule.ownerModeProblem('the code cache', cacheStat.uid, cacheStat.mode, { dir: false, owner: scriptStat.uid, kind: true })) return undefined;
  if (data.length < header.length || data.subarray(0, header.length).toString('latin1') !== header) return undefined;
  return data.subarray(header.length);
}

let rule;

/**
 * The one owner and mode rule (host/sandbox/policy/owner.ts), as `npm run
 * build` bundles it alone into dist/owner-rule.cjs: this launcher runs
 * before any of dist's ES modules are loaded (and must not start node's ES
 * module loader for `pamwasm exec`), so it requires that CommonJS copy of
 * the built rule rather than keeping its own. Undefined when it cannot be
 * loaded (a build older than the launcher): then no cache is trusted.
 */
function ownerRule() {
  if (rule === undefined) {
    try {
      rule = require(join(__dirname, '..', 'dist', 'owner-rule.cjs'));
    } catch {
      rule = null;
    }
  }
  return rule ?? undefined;
}

/**
 * A file's bytes and the stat of the very descriptor they were read from:
 * what is judged is what is used (a stat of the path, then a read of it,
 * could judge one file and read another put there meanwhile).
 */
function readOpenFile(file, flags) {
  const fd = fs.openSync(file, flags);
  try {
    return { st: fs.fstatSync(fd), data: fs.readFileSync(fd) };
  } finally {
    fs.closeSync(fd);
  }
}

/** Hex sha256 of a script's source. */
function sourceSha256(source) {
  const { createHash } = require('node:crypto');
  return createHash('sha256').update(source).digest('hex');
}

/** The code cache's header line for a script's source (whose sha256 is `sha256`, when known). */
function codeCacheHeader(source, sha256 = sourceSha256(source)) {
  return `pamwasm-exec-codecache 1 ${sha256} ${process.version}\n`;
}

/**
 * Runs dist/pamwasm-exec.cjs as a script with V8's code cache, kept beside it
 * in pamwasm-exec.cjs.codecache: the header line (codeCacheHeader) and V8's
 * data, taken only when usableCodeCache says so. It is written back, by
 * rename, only by the owner of the folder, after a run that found it missing,
 * stale or rejected: made after a run, it holds the functions that run
 * compiled. The script gets the source's sha256 too (`__pw_script_sha256`:
 * host/build/bundle-exec.ts), so that it need not read and hash itself.
 */
function runExecScript(file) {
  const { Script } = require('node:vm');
  const { createRequire } = require('node:module');
  const scriptFile = readOpenFile(file, 'r');
  const source = scriptFile.data.toString('utf8');
  const cacheFile = `${file}.codecache`;
  const sha256 = sourceSha256(source);
  const header = codeCacheHeader(source, sha256);
  let cachedData;
  try {
    // Never through a symlink, and judged on the descriptor read.
    const cache = readOpenFile(cacheFile, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    cachedData = usableCodeCache(cache.data, header, cache.st, scriptFile.st);
  } catch { /* no cache: compile */ }
  const script = new Script(`(function (exports, require, module, __filename, __dirname, __pw_import, __pw_script_sha256) {${source}\n})`, { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file), (specifier) => import(specifier), sha256);
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

async function main() {
  const root = join(__dirname, '..');
  const entry = join(root, 'dist', 'host', 'cli', 'index.js');
  if (!fs.existsSync(entry)) {
    process.stderr.write('pamwasm: the host is not built yet; run `npm run build` (or `npm install`) in the pamwasm folder.\n');
    process.exit(2);
  }
  // A reader that stops early (`pamwasm run ... | head`) is not an error.
  // Set on each stream when it is first used: making process.stdout and
  // process.stderr costs about 3 ms, which a quiet `pamwasm exec` never pays.
  const guard = (stream) => stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  for (const name of ['stdout', 'stderr']) {
    const d = Object.getOwnPropertyDescriptor(process, name);
    if (!d || !d.get || !d.configurable) {
      guard(process[name]);
      continue;
    }
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: d.enumerable,
      get() {
        Object.defineProperty(process, name, d);
        const stream = d.get.call(process);
        guard(stream);
        return stream;
      },
    });
  }
  // `pamwasm exec` starts at every login (pam_exec): it loads its own bundle,
  // not the whole CLI, when `npm run build` has made it.
  const execScript = join(root, 'dist', 'pamwasm-exec.cjs');
  const execBundle = join(root, 'dist', 'pamwasm-exec.mjs');
  if (process.argv[2] === 'exec' && fs.existsSync(execScript)) {
    const { execMain, saveCodeCache } = runExecScript(execScript);
    process.exitCode = await execMain(process.argv.slice(3));
    saveCodeCache();
  } else if (process.argv[2] === 'exec' && fs.existsSync(execBundle)) {
    const { execMain } = await import(pathToFileURL(execBundle).href);
    process.exitCode = await execMain(process.argv.slice(3));
  } else {
    const { main: cli } = await import(pathToFileURL(entry).href);
    process.exitCode = await cli(process.argv.slice(2));
  }
}

module.exports = { usableCodeCache, codeCacheHeader, ownerRule };

if (require.main === module) {
  main().catch((e) => {
    // As an ES module's top-level await would: the error on stderr, exit 1.
    process.exitCode = 1;
    console.error(e);
  });
}
