/**
 * One pam.d file, line by line, as Linux-PAM 1.5.2 with Debian's patches
 * (the system libpam the differential tests hold us to) reads it in
 * libpam/pam_handlers.c, _pam_parse_conf_file:
 *  - the service file is read for every type; a file it includes or
 *    substacks only for the line's type; `@include FILE` (Debian) brings
 *    FILE in for the type being read, so in the service file for every type;
 *  - type words, keyword controls, include and substack are matched without
 *    regard to ASCII case; `[value=action]` words with regard to it;
 *  - a line it cannot make sense of becomes a handler that fails when
 *    dispatched (PAM_MUST_FAIL_CODE), under the type being read (auth in
 *    the service file, where it then never runs as session);
 *  - it gives up on the whole file (PAM_ABORT) when the file ends inside a
 *    continued line, or when a handler cannot be added: a module or
 *    substack whose name, the last path part less its extension, is empty
 *    or `?`, or an `@include` in the service file that fails. What came
 *    before in the file stays; a file included that gives up fails its
 *    include line, and libpam refuses the service file that gives up
 *    (pam_start fails, and pamwasm answers PAM_ABORT for every hook).
 */
import { BadSettingError } from '../errors/index.js';
import { type ModuleSpec, parseModuleSpec } from '../sandbox/index.js';
import { ACTION, type Actions, keywordActions, parseBracket, setDefault, undefActions } from './actions.js';
import type { ConfigLine, Diagnostic, Handler, ModuleType } from './parse.js';
import { assembleLines, BUF_SIZE, fromBytes, splitTokens } from './tokens.js';

/** libpam's PAM_SUBSTACK_MAX_LEVEL: a file read at this substack level is refused. */
export const MAX_SUBSTACK_LEVEL = 16;
/**
 * pamwasm's own bound on files read inside each other (include counts, as
 * substack does). libpam has none for include: an include cycle recurses
 * until it runs out of file descriptors or stack.
 */
export const MAX_NESTING = 64;
/** pamwasm's bound on the files one stack reads, against include trees that double at each level. */
export const MAX_FILES = 4096;

const TYPES: readonly ModuleType[] = ['auth', 'account', 'password', 'session'];

export interface Reader {
  /** Where a relative include is looked for. */
  dir: string;
  handlers: Handler[];
  lines: ConfigLine[];
  diagnostics: Diagnostic[];
  /** The file's bytes as latin1 (tokens.ts); throws as fs does. */
  read: (path: string) => string;
  /** Files read so far, the stack file included. */
  files: number;
}

/** strcasecmp's folding: ASCII letters only. */
const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));

/**
 * libpam's extract_modulename: the name a handler is known by. A path
 * whose last part, less what follows its last dot, is empty or `?` cannot
 * be added, and libpam gives up on the file.
 */
export function moduleNameProblem(path: string): string | undefined {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const name = dot >= 0 ? base.slice(0, dot) : base;
  if (name === '' || name === '?') return `"${path}" names no module (its name, the last path part less its extension, is ${name === '' ? 'empty' : '"?"'})`;
  return undefined;
}

/**
 * Parses one file's lines into `r`, reading `wanted` lines (undefined: every
 * type, as for the service file). Returns the diagnostic when libpam gives
 * up on the file.
 */
export function parseConf(
  r: Reader, file: string, source: string, wanted: ModuleType | undefined, level: number, nesting: number,
): Diagnostic | undefined {
  const { lines, end } = assembleLines(source);
  const diag = (line: number, message: string) => {
    const d: Diagnostic = { file, line, severity: 'error', message };
    r.diagnostics.push(d);
    return d;
  };
  // libpam keeps the control actions in one array for the whole file, reset
  // for each line of the type read; an `@include` that fails takes whatever
  // the line before left there (all bad at the file's start).
  let actions: Actions = undefActions();
  for (const { line, text } of lines) {
    const toks = splitTokens(text).map((t) => ({ text: fromBytes(t.text), bracketed: t.bracketed }));
    let at = 0;
    const word = toks[at++]?.text;
    let mustFail = false;
    let quiet = false;
    let type: ModuleType | undefined;
    let include: 'include' | 'substack' | '@include' | undefined;
    if (word === undefined) {
      diag(line, 'empty module type: expected session, auth, account or password.');
      type = wanted ?? 'auth';
      mustFail = true;
    } else {
      quiet = word.startsWith('-');
      const lower = asciiLower(quiet ? word.slice(1) : word);
      type = TYPES.find((t) => t === lower);
      if (lower === '@include') {
        include = '@include';
        type = wanted;
      } else if (!type) {
        diag(line, `illegal module type "${word}": expected session, auth, account or password.`);
        // libpam files a line of unknown type under the most sensitive type.
        type = wanted ?? 'auth';
        mustFail = true;
      }
    }
    let control: string | undefined;
    if (!include) {
      if (wanted && type !== wanted) continue;
      actions = undefActions();
      control = toks[at++]?.text;
      const keyword = control === undefined ? undefined : keywordActions(control);
      if (control === undefined) {
        diag(line, 'no control flag: expected required, requisite, sufficient, optional, include, substack or [value=action ...].');
        setDefault(actions, ACTION.BAD);
        mustFail = true;
      } else if (keyword) {
        actions = keyword;
      } else if (asciiLower(control) === 'include' || asciiLower(control) === 'substack') {
        include = asciiLower(control) as 'include' | 'substack';
      } else {
        const error = parseBracket(control, actions);
        if (error) diag(line, `bad control "${control}": ${error}; every code now counts as bad.`);
      }
    }
    const targetTok = toks[at++];
    const target = targetTok?.text;
    const args = toks.slice(at).map((t) => t.text);
    r.lines.push({ file, line, type: type ?? '@include', control, module: target, args: include ? [] : args });
    const shown = control === undefined ? '' : include || keywordActions(control) ? control : `[${control}]`;
    const base = { file, line, level, control: include === '@include' ? '@include' : shown, quiet, args: [] as string[] };

    if (include) {
      const substack = include === 'substack';
      if (substack && target !== undefined) {
        const bad = moduleNameProblem(target);
        if (bad) return diag(line, `substack ${bad}: libpam cannot add it and gives up on the file.`);
        if (type === 'session') r.handlers.push({ ...base, kind: 'substack', actions: [...actions], module: target });
      }
      // The included lines of another type never run as session: not read.
      if (type !== undefined && type !== 'session') continue;
      const failed = target === undefined
        // libpam reads the name it was not given (a NULL pointer) and crashes.
        ? 'expected a file name after the control.'
        : includeFile(r, target, type, level + (substack ? 1 : 0), nesting + 1);
      if (!failed) continue;
      const why = `${include} ${target ?? '(no file named)'}: ${failed}`;
      if (r.files > MAX_FILES) return diag(line, why);
      // In a file read for every type, the failing line would have no type,
      // which libpam cannot add: it gives up on the file.
      if (type === undefined) return diag(line, `${why} Debian's libpam refuses the whole file.`);
      diag(line, why);
      setDefault(actions, ACTION.BAD);
      r.handlers.push({ ...base, kind: 'must-fail', actions: [...actions] });
      continue;
    }
    if (target === undefined && !mustFail) {
      diag(line, 'no module named: expected a module path after the control.');
      mustFail = true;
    }
    let spec: ModuleSpec | undefined;
    if (!mustFail && targetTok) {
      try {
        // A bracketed field of two words or more holds pamwasm's sandbox
        // settings; anything else is the path as written, blanks included, as libpam reads it.
        const settings = targetTok.bracketed && targetTok.text.trim().split(/\s+/).length > 1;
        spec = settings ? parseModuleSpec(targetTok.text) : { path: targetTok.text, grants: {} };
      } catch (e) {
        // A bad setting fails this line closed, as a malformed line: the others still run.
        if (!(e instanceof BadSettingError)) throw e;
        r.diagnostics.push({ file, line, severity: 'error', message: `${e.message}.`, code: e.code });
        mustFail = true;
      }
    }
    const named = spec?.path ?? target;
    const bad = named === undefined ? undefined : moduleNameProblem(named);
    if (bad) return diag(line, `${bad}: libpam cannot add the line and gives up on the file.`);
    if (type !== 'session') continue;
    r.handlers.push({ ...base, kind: mustFail ? 'must-fail' : 'module', actions: [...actions], module: spec?.path ?? target, spec, args });
  }
  if (end?.why === 'unterminated') {
    return diag(end.line, 'the file ends inside a continued line (a trailing backslash): libpam rejects the whole file.');
  }
  if (end) {
    return diag(end.line, `a continued line fills libpam's ${BUF_SIZE}-byte line buffer up to a trailing backslash, where libpam would read for ever: rejected.`);
  }
  return undefined;
}

/** Reads an include or substack target at substack level `level`; returns why it failed, or undefined. */
function includeFile(r: Reader, target: string, type: ModuleType | undefined, level: number, nesting: number): string | undefined {
  if (level >= MAX_SUBSTACK_LEVEL) return `more than ${MAX_SUBSTACK_LEVEL - 1} levels of substack.`;
  if (nesting > MAX_NESTING) return `more than ${MAX_NESTING} files read inside each other (an include cycle?).`;
  if (++r.files > MAX_FILES) return `more than ${MAX_FILES} files read for one stack.`;
  // Linux-PAM 1.5.2 looks for a relative name in /etc/pam.d, even under
  // pam_start_confdir; pamwasm looks beside the stack file (docs/stacks.md).
  const path = target.startsWith('/') ? target : `${r.dir}/${target}`;
  let source: string;
  try {
    source = r.read(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // libpam opens a directory with fopen and reads nothing from it: an empty file.
    if (err.code === 'EISDIR') source = '';
    else return err.code === 'ERR_PAMWASM_UNSAFE_PERMISSIONS' ? err.message : `cannot read ${path} (${err.code}).`;
  }
  const fatal = parseConf(r, path, source, type, level, nesting);
  return fatal ? `${path} is rejected: ${fatal.message}` : undefined;
}
