/**
 * An on-disk cache of prepared components: the output of checking,
 * transpiling (jco) and metering a component, so that a process that starts
 * for every login (`pamwasm exec` under pam_exec) does not pay jco's
 * transpile (about 300 ms cold) and the world check each time.
 *
 * What an entry holds is code the host runs (jco's glue JavaScript, or the
 * fast path's instantiation plan: component/plan.ts) and WebAssembly it
 * compiles, so the cache is kept as carefully as a module
 * directory:
 *  - the directory is made 0700, and is used only when it is a real
 *    directory owned by this user with no group or other access, and every
 *    folder above it is owned by root or this user and not writable by others
 *    (unless sticky, like /tmp); otherwise the cache is not used and the
 *    caller is told why;
 *  - an entry is a regular file (never followed through a symlink) owned by
 *    this user, not writable by group or others; it names its own key and the
 *    sha256 of every part, and is used only when all of them match;
 *  - entries are written to a temp file and renamed into place, so a reader
 *    never sees half an entry, and two processes writing one entry are fine;
 *  - beside an entry, `<key>.code` holds V8's code cache of its glue (see
 *    glue.ts), kept the same way and bound to the glue's sha256 and the V8
 *    version, since V8 itself checks only the source's length.
 *
 * The key covers everything the prepared output depends on: the component's
 * sha256, the load options that change it (granted imports, memory cap and
 * fuel, whether the fast path may be taken), the world (`wit/`), the glue generator (name and version: see
 * transpile.ts), the jco-transpile version and the loader's and meter's own
 * code. Nothing is ever evicted: a key that can no longer be
 * asked for (after an upgrade) leaves a dead file behind; delete the
 * directory to reclaim it.
 *
 * @example
 *   const mod = await loadComponent('/usr/lib/pamwasm/pam_stamp.wasm', { cache: { dir: defaultCacheDir() } });
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { folderProblem, ownerModeProblem, readCheckedFile } from '../sandbox/index.js';
import { witSource } from '../wit/index.js';
import type { Instantiator, Plan } from './component/index.js';
import { sha256 } from './names.js';
import { GLUE_GENERATOR } from './transpile.js';

/**
 * In the exec script (host/build/bundle-exec.ts maps it to a parameter that
 * bin/pamwasm.js passes), the sha256 of the script's source as it was read
 * to be run; not defined anywhere else.
 */
declare const PAMWASM_SCRIPT_SHA256: string | undefined;

export interface CacheOptions {
  /** The cache directory (made 0700 if missing). */
  dir: string;
  /** Told, once per directory and engine, why the cache is not used. */
  onWarning?: (message: string) => void;
}

/** What loading a component produces before compiling: the parts an entry stores. */
export interface Prepared {
  /**
   * How instances are made: jco's glue (`module.js`), or the fast path's
   * instantiation plan (component/plan.ts; JSON in an entry). Exactly one is set.
   */
  glue?: string;
  plan?: Plan;
  /** The plan's instantiator, when this process compiled it already. Not stored. */
  instantiate?: Instantiator;
  /** Core modules by jco's file name, metered when the load asked for it. */
  cores: Map<string, Uint8Array>;
  /** Hex sha256 of each core module, by name: each is hashed once per load. */
  sha256s: Map<string, string>;
  /** Hex sha256 of the glue as an entry holds it (its text as UTF-8), once known. */
  glueSha256?: string;
  imports: string[];
  exports: [string, 'function' | 'instance'][];
  /** The core modules as the component holds them (before metering). */
  coreModules: { name: string; size: number }[];
}

/** What a prepared component depends on besides its bytes: the load options that shape it, normalised. */
export interface KeyParts {
  /** Granted imports, sorted. */
  allow: string[];
  /** Memory cap in pages (null: as declared), fuel, whether memories come from the pool, and the table cap (null: the default); null when not metered. */
  meter: { pages: number | null; fuel: number; pool: boolean; tables: number | null } | null;
  /** `jco` when the fast path was not tried (LoadOptions.fastPath false). */
  path: 'jco' | 'any';
}

const FORMAT = 'pamwasm-component-cache/2';
const GROUP_OR_OTHER = 0o077;

const euid = () => (typeof process.geteuid === 'function' ? process.geteuid() : -1);

/** /var/cache/pamwasm as root, else $XDG_CACHE_HOME/pamwasm (~/.cache/pamwasm). */
export function defaultCacheDir(): string {
  if (euid() === 0) return '/var/cache/pamwasm';
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pamwasm');
}

let environment: string | undefined;

/**
 * The world, the glue generator's and jco-transpile's versions (the first
 * writes the glue, the second's wasm-tools builds the reference world the
 * check compares with) and the code that prepares a component, as one hash.
 * The code is this file's folder and the sandbox's (loader and meter), or,
 * in a bundle, the bundle itself.
 */
function environmentHash(): string {
  if (environment) return environment;
  const here = fileURLToPath(import.meta.url);
  const dir = dirname(here);
  const bundled = basename(dir) !== 'loader';
  const code = bundled
    ? [here]
    : [dir, join(dir, 'component'), ...withSubfolders(join(dir, '..', 'sandbox'))].flatMap((d) => readdirSync(d).filter((f) => /\.(js|ts|mjs)$/.test(f) && !f.endsWith('.d.ts')).sort().map((f) => join(d, f)));
  // The exec script is hashed once, by bin/pamwasm.js as it reads it to run it.
  const scriptSha256 = bundled && typeof PAMWASM_SCRIPT_SHA256 === 'string' ? PAMWASM_SCRIPT_SHA256 : undefined;
  const h = createHash('sha256').update(FORMAT).update('\0').update(witSource());
  for (const version of generatorVersions()) h.update('\0').update(version);
  for (const f of code) h.update('\0').update(basename(f)).update('\0').update(scriptSha256 ?? sha256(readFileSync(f)));
  environment = h.digest('hex');
  return environment;
}

/** `dir` and every folder below it, sorted (the sandbox's layers are folders). */
function withSubfolders(dir: string): string[] {
  const below = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  return [dir, ...below.flatMap((d) => withSubfolders(join(dir, d)))];
}

let versions: readonly string[] | undefined;

/**
 * `<name>@<version>` of the glue generator and of jco-transpile (see
 * environmentHash), once per process: what the cache's entries and the
 * reference world (component/reference.ts) depend on.
 */
export function generatorVersions(): readonly string[] {
  versions ??= [`${GLUE_GENERATOR}/component`, '@bytecodealliance/jco-transpile'].map((pkg) => packageVersion(pkg));
  return versions;
}

/**
 * `<name>@<version>` of the package that `specifier` resolves into, from the
 * nearest package.json above it that has a name (for an npm alias, the real
 * package's: `@bytecodealliance/jco@1.11.2`).
 */
export function packageVersion(specifier: string): string {
  // The package's own folder first, as node's resolution finds it (one read,
  // where resolving the specifier through its exports map costs `pamwasm
  // exec` about 2 ms at every login); then the resolved entry's folders.
  const name = specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    try {
      const pkg = JSON.parse(readFileSync(join(d, 'node_modules', name, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name) return `${pkg.name}@${pkg.version ?? 'unknown'}`;
    } catch { /* not here: keep walking up */ }
  }
  try {
    const main = fileURLToPath(import.meta.resolve(specifier));
    for (let d = dirname(main); d !== dirname(d); d = dirname(d)) {
      try {
        const pkg = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name) return `${pkg.name}@${pkg.version ?? 'unknown'}`;
      } catch { /* keep walking up */ }
    }
  } catch { /* not resolvable: the key still differs from any resolvable one */ }
  return `${specifier}@unknown`;
}

/** The entry key for a component (its sha256) and the options that shape its prepared form. */
export function cacheKey(component: string, parts: KeyParts): string {
  return sha256(JSON.stringify({ env: environmentHash(), component, allow: parts.allow, meter: parts.meter, path: parts.path }));
}

interface Header {
  format: string;
  key: string;
  imports: string[];
  exports: [string, 'function' | 'instance'][];
  coreModules: { name: string; size: number }[];
  parts: { name: string; bytes: number; sha256: string }[];
}

const GLUE = '<glue>';
const PLAN = '<plan>';

/** Why `dir` must not be used (null when it is fine); makes it when missing. */
function problemWith(dir: string): string | null {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    return `it cannot be made (${(e as NodeJS.ErrnoException).code})`;
  }
  const me = euid();
  const st = lstatSync(dir);
  if (!st.isDirectory()) return 'it is not a directory (a symlink is not followed)';
  // This user's, closed to others (the one owner and mode rule), and not even readable by them.
  const own = ownerModeProblem('it', st.uid, st.mode, { dir: false, owner: me });
  if (own) return own;
  if (st.mode & GROUP_OR_OTHER) return `its mode is ${(st.mode & 0o777).toString(8)}, not 700`;
  // The folders above, by the rule every checked read uses (host/sandbox/policy/perms.ts).
  return folderProblem(realpathSync(dirname(dir)), me) ?? null;
}

/**
 * The cache in `o.dir`, or undefined (after one warning) when the directory
 * is unsafe. `checked` keeps each directory's verdict (an engine's,
 * EngineState.cacheDirs): judged and told once per directory and engine.
 */
export function openCache(o: CacheOptions, checked = new Map<string, string | null>()): ComponentCache | undefined {
  let problem = checked.get(o.dir);
  if (problem === undefined) {
    problem = problemWith(o.dir);
    checked.set(o.dir, problem);
    if (problem) o.onWarning?.(`not using the component cache ${o.dir}: ${problem}; point the cache at a folder used for nothing else (pamwasm makes a missing one, with mode 700).`);
  }
  return problem ? undefined : new ComponentCache(o.dir);
}

export class ComponentCache {
  constructor(readonly dir: string) {}

  /** The entry for `key`, or undefined when there is none or it fails a check. */
  get(key: string): Prepared | undefined {
    const data = this.read(`${key}.entry`);
    return data && decode(data, key);
  }

  /** Stores an entry (best effort: a full disk or a race only costs the next process a transpile). */
  put(key: string, p: Prepared): void {
    this.write(`${key}.entry`, encode(key, p));
  }

  /**
   * V8's code cache for the glue of entry `key`, whose text has sha256
   * `glue`, made by this V8 version; undefined when there is none or it
   * fails a check.
   */
  getCode(key: string, glue: string): Uint8Array | undefined {
    const data = this.read(`${key}.code`);
    if (!data) return undefined;
    try {
      const hlen = data.readUInt32LE(0);
      const h = JSON.parse(data.subarray(4, 4 + hlen).toString()) as CodeHeader;
      const code = data.subarray(4 + hlen);
      if (h.format !== FORMAT || h.key !== key || h.glue !== glue || h.v8 !== process.versions.v8 || h.sha256 !== sha256(code)) return undefined;
      return code;
    } catch {
      return undefined;
    }
  }

  putCode(key: string, glue: string, code: Uint8Array): void {
    const header: CodeHeader = { format: FORMAT, key, glue, v8: process.versions.v8, sha256: sha256(code) };
    this.write(`${key}.code`, frame(header, code));
  }

  /**
   * A file's bytes, if it is a regular file of this user that others cannot
   * write, never through a symlink, in folders only this user and root can
   * change: read through the one checked read (host/sandbox/policy/perms.ts).
   */
  private read(name: string): Buffer | undefined {
    try {
      return readCheckedFile(join(this.dir, name), { what: 'cache file', strict: true, owner: euid(), noFollow: true }).bytes;
    } catch {
      return undefined;
    }
  }

  /** Writes a file whole or not at all: a temp file, then rename. */
  private write(name: string, data: Buffer): void {
    const tmp = join(this.dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
      renameSync(tmp, join(this.dir, name));
    } catch {
      try { unlinkSync(tmp); } catch { /* never written */ }
    }
  }
}

interface CodeHeader { format: string; key: string; glue: string; v8: string; sha256: string }

/** A length-prefixed JSON header, then the payload. */
function frame(header: object, ...payload: Uint8Array[]): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(h.length);
  return Buffer.concat([len, h, ...payload]);
}

function encode(key: string, p: Prepared): Buffer {
  // Each part with its sha256 when the load knows it already.
  type Blob = [name: string, bytes: Uint8Array, sha256: string | undefined];
  const how: Blob = p.plan !== undefined ? [PLAN, Buffer.from(JSON.stringify(p.plan)), undefined] : [GLUE, Buffer.from(p.glue ?? ''), p.glueSha256];
  const blobs: Blob[] = [how, ...[...p.cores].map(([name, b]): Blob => [name, b, p.sha256s.get(name)])];
  const header: Header = {
    format: FORMAT, key, imports: p.imports, exports: p.exports, coreModules: p.coreModules,
    parts: blobs.map(([name, b, hash]) => ({ name, bytes: b.length, sha256: hash ?? sha256(b) })),
  };
  return frame(header, ...blobs.map(([, b]) => b));
}

function decode(data: Buffer, key: string): Prepared | undefined {
  let plan: string | undefined;
  let p: Prepared;
  try {
    const hlen = data.readUInt32LE(0);
    const header = JSON.parse(data.subarray(4, 4 + hlen).toString()) as Header;
    if (header.format !== FORMAT || header.key !== key) return undefined;
    let at = 4 + hlen;
    let glue: string | undefined;
    let glueSha256: string | undefined;
    const cores = new Map<string, Uint8Array>();
    const sha256s = new Map<string, string>();
    for (const part of header.parts) {
      const b = data.subarray(at, at + part.bytes);
      at += part.bytes;
      if (b.length !== part.bytes || sha256(b) !== part.sha256) return undefined;
      if (part.name === GLUE) {
        glue = b.toString();
        glueSha256 = part.sha256;
      } else if (part.name === PLAN) {
        plan = b.toString();
      } else {
        // A view of the entry: nothing writes to it, and compiling copies it.
        cores.set(part.name, new Uint8Array(b.buffer, b.byteOffset, b.length));
        sha256s.set(part.name, part.sha256);
      }
    }
    if (at !== data.length || (glue === undefined) === (plan === undefined)) return undefined;
    p = { glue, glueSha256, cores, sha256s, imports: header.imports, exports: header.exports, coreModules: header.coreModules };
  } catch {
    return undefined;
  }
  // Parsed outside the checks above: a plan that the entry's hashes vouch
  // for but that does not parse fails the load, not only the entry.
  if (plan !== undefined) p.plan = JSON.parse(plan) as Plan;
  return p;
}
