/**
 * The pam.d stack file parser: reads the stack file and what it includes
 * (conf.ts reads each file's lines as libpam/pam_handlers.c does,
 * tokens.ts its logical lines and tokens) into the session handlers.
 *
 * A malformed line is not an exception: like libpam, it becomes a handler
 * that fails when dispatched (PAM_MUST_FAIL_CODE), and a diagnostic that
 * names file and line and says what was expected. A file libpam would
 * refuse whole gives the stack a `fatal` diagnostic.
 *
 * Parsed stacks are kept, in the engine given (host/engine), per path
 * while every file they were read from (the file and each include and
 * substack) is unchanged, by the same rule as the
 * loader's module files (host/loader/files.ts): the same device, inode,
 * size, mtime and ctime (ns), and remembered only when those times were at
 * least 2 s old as the file was read (`settledIdentity`). Each file is
 * opened and judged on every call, before a kept parse is used, by the one
 * checked open that every read goes through (host/sandbox/policy/perms.ts
 * `readCheckedFile`: root's owner and mode rule on the open file, when
 * strictPermissions); any doubt (a check that throws, a file that changed
 * or cannot be opened) parses afresh, which gives the verdict. A parsed
 * stack is deeply frozen, kept or not: callers share it and must not change it.
 */
import type { BigIntStats } from 'node:fs';
import { dirname } from 'node:path';
import { StackNotFoundError } from '../errors/index.js';
import type { EngineState, FileRead } from '../engine/state.js';
import { settledIdentity } from '../loader/files.js';
import { sha256 } from '../loader/names.js';
import { type ModuleSpec, readCheckedFile, stillJudged, strictByDefault } from '../sandbox/index.js';
import { parseConf, type Reader } from './conf.js';
import type { DispatchLine } from './dispatch.js';
import { toBytes } from './tokens.js';

export type ModuleType = 'auth' | 'account' | 'password' | 'session';

export interface Diagnostic {
  file: string;
  line: number;
  severity: 'error' | 'warning';
  message: string;
  /** The typed error's code when a PamwasmError gave the finding (e.g. ERR_PAMWASM_BAD_SETTING). */
  code?: string;
}

/** One handler of the session hooks, in dispatch order. */
export interface Handler extends DispatchLine {
  file: string;
  line: number;
  /** The control as written (`required`, `[success=ok default=bad]`, `substack`). */
  control: string;
  /** The module token as written; absent for must-fail lines without one. */
  module?: string;
  /** The module path and its sandbox settings (module lines only). */
  spec?: ModuleSpec;
  args: string[];
  /** `-session`: a missing module is not logged. */
  quiet: boolean;
}

/** Every line read, of every type, for display and linting. */
export interface ConfigLine {
  file: string;
  line: number;
  type: string;
  control?: string;
  module?: string;
  args: string[];
}

export interface Stack {
  file: string;
  handlers: Handler[];
  lines: ConfigLine[];
  diagnostics: Diagnostic[];
  /** Set when libpam would refuse the whole file (every hook then returns PAM_ABORT). */
  fatal?: Diagnostic;
  /** Hex sha256 of the stack file's bytes as parsed (what the session registry records). */
  sha256: string;
}

/** Kept parses (EngineState.parsed) and root's verdicts: an engine's. */
type ParseState = Pick<EngineState, 'parsed' | 'verdicts'>;

export interface ParseOptions {
  strictPermissions?: boolean;
  /**
   * The engine that keeps parses while their files are unchanged, by the
   * path asked for, with every file read in reading order (host/engine).
   * Default: nothing kept.
   */
  engine?: ParseState;
}

/**
 * Reads `path` and its identity from the same open file; id undefined unless
 * settled. With `strict`, root's rule judges the open file before it is read.
 */
function readIdentified(path: string, strict: boolean, verdicts?: Map<string, number>): { bytes: Buffer; id?: string } {
  const { st, bytes } = readCheckedFile(path, { what: 'stack file', strict, verdicts });
  return { bytes: bytes!, id: settledIdentity(st) };
}

/** The kept parse of `path` if every file it read passes the checks and is unchanged. */
function keptParse(path: string, strict: boolean, state: ParseState): Stack | undefined {
  const hit = state.parsed.get(path);
  if (!hit) return undefined;
  for (const r of hit.reads) {
    try {
      const rule = { what: 'stack file', strict, verdicts: state.verdicts, unchanged: (_st: BigIntStats, id: string) => id === r.id };
      if (stillJudged(r.path, rule)) continue;
      // Opened and judged as a fresh read would be; read only if it changed, and then parsed afresh.
      if (readCheckedFile(r.path, rule).bytes) return undefined;
    } catch {
      return undefined; // parsed afresh: its checks and reads give the verdict
    }
  }
  return hit.stack;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/**
 * Parses the session handlers of a stack file. Includes and substacks are
 * read relative to the file's directory (libpam reads them from its confdir).
 *
 * @example
 *   const stack = parseStackFile('/etc/pamwasm/login.stack');
 *   for (const d of stack.diagnostics) console.error(`${d.file}:${d.line}: ${d.message}`);
 */
export function parseStackFile(path: string, options: ParseOptions = {}): Stack {
  const strict = options.strictPermissions ?? strictByDefault();
  const state = options.engine;
  const kept = state && keptParse(path, strict, state);
  if (kept) return kept;
  const reads: FileRead[] = [];
  let keep = state !== undefined;
  const parsed = state?.parsed;
  parsed?.delete(path);
  const readBytes = (p: string) => {
    let r: { bytes: Buffer; id?: string };
    try {
      r = readIdentified(p, strict, state?.verdicts);
    } catch (e) {
      keep = false; // a refused or unreadable file: parsed afresh every time
      throw e;
    }
    if (r.id === undefined) keep = false;
    else reads.push({ path: p, id: r.id });
    return r.bytes;
  };
  const read = (p: string) => readBytes(p).toString('latin1');
  let source: string;
  let stackSha256: string;
  try {
    const bytes = readBytes(path);
    stackSha256 = sha256(bytes);
    source = bytes.toString('latin1');
  } catch (e) {
    if (e instanceof Error && 'code' in e && e.code === 'ERR_PAMWASM_UNSAFE_PERMISSIONS') throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new StackNotFoundError(`stack file ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}.`, { cause: e });
  }
  const r: Reader = { dir: dirname(path), handlers: [], lines: [], diagnostics: [], read, files: 1 };
  const fatal = parseConf(r, path, source, undefined, 0, 0);
  const stack = deepFreeze<Stack>({ file: path, handlers: r.handlers, lines: r.lines, diagnostics: r.diagnostics, ...(fatal ? { fatal } : {}), sha256: stackSha256 });
  if (keep) parsed?.set(path, { reads, stack });
  else parsed?.delete(path);
  return stack;
}

/**
 * Parses stack text held in memory (an editor's buffer) as if it were the
 * file `file`: includes and substacks are read from `file`'s directory, as
 * parseStackFile reads them. Never kept: the text has no file identity.
 *
 * @example
 *   const stack = parseStackText('session required pam_permit.wasm\n', { file: '/tmp/draft.stack' });
 */
export function parseStackText(text: string, options: { file: string } & ParseOptions): Stack {
  const strict = options.strictPermissions ?? strictByDefault();
  const read = (p: string) => readIdentified(p, strict, options.engine?.verdicts).bytes.toString('latin1');
  const r: Reader = { dir: dirname(options.file), handlers: [], lines: [], diagnostics: [], read, files: 1 };
  const fatal = parseConf(r, options.file, toBytes(text), undefined, 0, 0);
  return deepFreeze<Stack>({
    file: options.file, handlers: r.handlers, lines: r.lines, diagnostics: r.diagnostics, ...(fatal ? { fatal } : {}),
    sha256: sha256(Buffer.from(text, 'utf8')),
  });
}
