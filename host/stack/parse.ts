/**
 * The pam.d stack file parser, following libpam/pam_handlers.c
 * (_pam_parse_conf_file): `type control module [args]` lines with the
 * keyword controls, bracket controls, include and substack; `-type` lines;
 * comments and continued lines; bracketed args with spaces.
 *
 * A malformed line is not an exception: like libpam, it becomes a handler
 * that fails when dispatched (PAM_MUST_FAIL_CODE), and a diagnostic that
 * names file and line and says what was expected.
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
import { dirname, isAbsolute, join } from 'node:path';
import { BadSettingError, StackNotFoundError } from '../errors/index.js';
import type { EngineState, FileRead } from '../engine/state.js';
import { settledIdentity } from '../loader/files.js';
import { sha256 } from '../loader/names.js';
import { type ModuleSpec, parseModuleSpec, readCheckedFile, stillJudged, strictByDefault } from '../sandbox/index.js';
import { ACTION, type Actions, keywordActions, parseBracket, setDefault, undefActions } from './actions.js';
import type { DispatchLine } from './dispatch.js';
import { assembleLines, tokenize } from './tokens.js';

/** libpam's PAM_SUBSTACK_MAX_LEVEL: include and substack nesting limit. */
const MAX_LEVEL = 16;
const TYPES = ['auth', 'account', 'password', 'session'] as const;
export type ModuleType = (typeof TYPES)[number];

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

interface Reader {
  dir: string;
  handlers: Handler[];
  lines: ConfigLine[];
  diagnostics: Diagnostic[];
  read: (path: string) => string;
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

const typeOf = (tok: string): ModuleType | undefined => TYPES.find((t) => t === tok.toLowerCase());

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
  const read = (p: string) => readBytes(p).toString('utf8');
  let source: string;
  let stackSha256: string;
  try {
    const bytes = readBytes(path);
    stackSha256 = sha256(bytes);
    source = bytes.toString('utf8');
  } catch (e) {
    if (e instanceof Error && 'code' in e && e.code === 'ERR_PAMWASM_UNSAFE_PERMISSIONS') throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new StackNotFoundError(`stack file ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}.`, { cause: e });
  }
  const r: Reader = { dir: dirname(path), handlers: [], lines: [], diagnostics: [], read };
  const fatal = parseSource(r, path, source, undefined, 0, 0);
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
  const read = (p: string) => readIdentified(p, strict, options.engine?.verdicts).bytes.toString('utf8');
  const r: Reader = { dir: dirname(options.file), handlers: [], lines: [], diagnostics: [], read };
  const fatal = parseSource(r, options.file, text, undefined, 0, 0);
  return deepFreeze<Stack>({
    file: options.file, handlers: r.handlers, lines: r.lines, diagnostics: r.diagnostics, ...(fatal ? { fatal } : {}),
    sha256: sha256(Buffer.from(text, 'utf8')),
  });
}

/** Parses one file; returns a diagnostic when libpam would reject it whole. */
function parseSource(
  r: Reader, file: string, source: string, wanted: ModuleType | undefined, includeLevel: number, level: number,
): Diagnostic | undefined {
  const { lines, unterminated } = assembleLines(source);
  const diag = (line: number, message: string, severity: Diagnostic['severity'] = 'error') => {
    const d = { file, line, severity, message };
    r.diagnostics.push(d);
    return d;
  };
  for (const { line, text } of lines) {
    const toks = tokenize(text);
    let tok = toks.shift();
    if (tok === '@include') {
      // Debian's libpam (the system's, which the differential tests hold us
      // to) reads `@include FILE` as an include of FILE for every type; a
      // file it cannot include makes it refuse the whole service file.
      const target = toks.shift();
      r.lines.push({ file, line, type: tok, module: target, args: [] });
      const failed = includeFile(r, target, wanted ?? 'session', includeLevel + 1, level);
      if (failed) return diag(line, `@include ${target ?? '(no file named)'}: ${failed} Debian's libpam refuses the whole file.`);
      continue;
    }
    let mustFail = false;
    let quiet = false;
    let type: ModuleType | undefined;
    if (tok === undefined) {
      diag(line, 'empty module type: expected session, auth, account or password.');
      type = wanted ?? 'auth';
      mustFail = true;
    } else {
      if (tok.startsWith('-')) {
        quiet = true;
        tok = tok.slice(1);
      }
      type = typeOf(tok);
      if (!type) {
        diag(line, `illegal module type "${tok}": expected session, auth, account or password.`);
        // libpam files a line of unknown type under the most sensitive type.
        type = wanted ?? 'auth';
        mustFail = true;
      }
    }
    if (wanted && type !== wanted) continue;

    const control = toks.shift();
    let actions: Actions = undefActions();
    let include: 'include' | 'substack' | undefined;
    const keyword = control === undefined ? undefined : keywordActions(control);
    if (control === undefined) {
      diag(line, 'no control flag: expected required, requisite, sufficient, optional, include, substack or [value=action ...].');
      setDefault(actions, ACTION.BAD);
      mustFail = true;
    } else if (keyword) {
      actions = keyword;
    } else if (/^(include|substack)$/i.test(control)) {
      include = control.toLowerCase() as 'include' | 'substack';
    } else {
      const error = parseBracket(control, actions);
      if (error) diag(line, `bad control "${control}": ${error}; every code now counts as bad.`);
    }

    const target = toks.shift();
    r.lines.push({ file, line, type, control, module: target, args: include ? [] : toks });
    if (type !== 'session') continue;
    const shown = control === undefined ? '' : keyword || include ? control : `[${control}]`;
    const base = { file, line, level, control: shown, quiet, args: [] as string[] };

    if (include) {
      if (include === 'substack') {
        r.handlers.push({ ...base, kind: 'substack', actions, module: target });
      }
      const failed = includeFile(r, target, 'session', includeLevel + 1, level + (include === 'substack' ? 1 : 0));
      if (!failed) continue;
      diag(line, `${include} ${target ?? '(no file named)'}: ${failed}`);
      actions = undefActions();
      setDefault(actions, ACTION.BAD);
      r.handlers.push({ ...base, kind: 'must-fail', actions });
      continue;
    }
    if (target === undefined && !mustFail) {
      diag(line, 'no module named: expected a module path after the control.');
      mustFail = true;
    }
    let spec: ModuleSpec | undefined;
    if (!mustFail && target !== undefined) {
      try {
        spec = parseModuleSpec(target);
      } catch (e) {
        // A bad setting fails this line closed, as a malformed line: the others still run.
        if (!(e instanceof BadSettingError)) throw e;
        r.diagnostics.push({ file, line, severity: 'error', message: `${e.message}.`, code: e.code });
        mustFail = true;
      }
    }
    r.handlers.push({ ...base, kind: mustFail ? 'must-fail' : 'module', actions, module: spec?.path ?? target, spec, args: toks });
  }
  if (unterminated !== undefined) {
    return diag(unterminated, 'the file ends inside a continued line (a trailing backslash): libpam rejects the whole file.');
  }
  return undefined;
}

/** Reads an include or substack target; returns why it failed, or undefined. */
function includeFile(r: Reader, target: string | undefined, type: ModuleType, includeLevel: number, level: number): string | undefined {
  if (target === undefined) return 'expected a file name after the control.';
  if (includeLevel >= MAX_LEVEL) return `more than ${MAX_LEVEL} levels of include/substack.`;
  const path = isAbsolute(target) ? target : join(r.dir, target);
  let source: string;
  try {
    source = r.read(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.code === 'ERR_PAMWASM_UNSAFE_PERMISSIONS' ? err.message : `cannot read ${path} (${err.code}).`;
  }
  const fatal = parseSource(r, path, source, type, includeLevel, level);
  return fatal ? `${path} is rejected: ${fatal.message}` : undefined;
}
