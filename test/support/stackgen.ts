/**
 * Random pam.d session stacks for differential tests: the same stack text is
 * written twice, once naming native modules (`./pam_debug.so`) for libpam and
 * once naming the bundled components (`pam_debug.wasm`) for pamwasm.
 *
 * Besides session lines (keyword and bracket controls, include, substack,
 * `@include`, `-session`, missing modules) a file holds lines of the other
 * types, malformed lines (unknown types and controls, bad brackets, jumps of
 * 0, -1 or past 2^31, missing modules, empty `[]`), words in other cases,
 * and includes of missing, empty, comment-only files and directories; the
 * lexical side (stacklex.ts) adds blanks, comments, continued, long and CRLF
 * lines. Left out are the texts on which libpam 1.5.2 crashes, hangs or reads
 * memory it never set (docs/stacks.md): an include without a file name, a
 * bad module name in an included file (also one that a backslash before a
 * CR shifts into the module field: stacklex.ts), a failing `@include`
 * before any line of the type read in an included file, include cycles, a
 * backslash at byte 1023.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PAM_CODES } from '../../host/codes/index.js';
import { filler, joinFile, lexFile, writeLine } from './stacklex.js';

/** mulberry32: small, seedable, good enough to pick stacks. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof rng>;

// Codes weighted towards the ones whose actions differ in the keyword controls.
const COMMON = ['success', 'success', 'success', 'ignore', 'ignore', 'session_err', 'perm_denied', 'new_authtok_reqd', 'abort', 'system_err'];
const ALL = PAM_CODES.map((c) => c.token);
const ACTIONS = ['ignore', 'ok', 'done', 'bad', 'die', 'reset', '1', '2', '3'];
const KEYWORDS = ['required', 'requisite', 'sufficient', 'optional'];
/** Bracket parts libpam refuses (every code then bad) or reads in a surprising way (a jump count that wraps). */
const ODD_PARTS = ['succes=ok', 'success=maybe', 'Success=Ok', 'success=', '=ok', 'success=0', 'success=-1', 'success ok',
  'success=4294967295', 'default=4294967294', 'success=4294967297', 'success=2147483648', 'success=okay', 'default=99'];
const OTHER_TYPES = ['auth', 'account', 'password'];
/** Session in other cases, and a `-` with no type after it. */
const ODD_TYPES = ['Session', 'SESSION', 'sEsSiOn', '-'];

function code(r: Rng): string {
  // INCOMPLETE makes libpam save the walk; keep it rare so most stacks run through.
  if (r.chance(0.01)) return 'incomplete';
  return r.chance(0.8) ? r.pick(COMMON) : r.pick(ALL.filter((t) => t !== 'incomplete'));
}

/** Upper-cases some letters: libpam folds type words and keyword controls (strcasecmp), not bracket words. */
const recase = (r: Rng, w: string) => (r.chance(0.08) ? r.pick([w.toUpperCase(), w[0].toUpperCase() + w.slice(1)]) : w);

function control(r: Rng): string {
  if (r.chance(0.55)) return recase(r, r.pick(KEYWORDS));
  const n = 1 + r.int(4);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(r.chance(0.04) ? r.pick(ODD_PARTS) : `${r.chance(0.2) ? 'default' : code(r)}=${r.pick(ACTIONS)}`);
  return `[${parts.join(' ')}]`;
}

function moduleLine(r: Rng): string {
  const kind = r.next();
  // A module that does not exist: libpam dispatches it as PAM_MODULE_UNKNOWN.
  if (kind < 0.02) return 'pam_missing@EXT@';
  if (kind < 0.07) return `pam_echo@EXT@ ${r.pick(['[a b]', '[]', '[x\\]y]', 'p[q r]s', '[hi]there', 'plain'])} ${r.pick(['tail', '[ ]', 'é'])}`;
  if (kind < 0.7) {
    const args: string[] = [];
    if (r.chance(0.85)) args.push(`open_session=${code(r)}`);
    if (r.chance(0.85)) args.push(`close_session=${code(r)}`);
    if (r.chance(0.1)) args.push(r.pick(['[open_session=abort x]', 'debug', '[]']));
    if (r.chance(0.5)) args.reverse();
    return `pam_debug@EXT@ ${args.join(' ')}`.trimEnd();
  }
  return kind < 0.85 ? 'pam_permit@EXT@' : 'pam_deny@EXT@';
}

export interface GeneratedStack {
  /**
   * File name -> its text, with `pam_x@EXT@` for a module and `@DIR@` for
   * the stack's directory: includes name absolute paths, because Linux-PAM
   * 1.5.2 looks for a relative include in /etc/pam.d even when
   * pam_start_confdir named another directory.
   */
  files: Record<string, string>;
  /** Directories to make beside the files (an include may name one). */
  dirs?: string[];
  /** The service (main) file name. */
  main: string;
}

/** A stack of 1 to 12 module lines in all (includes and substacks counted), and what goes between them. */
export function generateStack(seed: number): GeneratedStack {
  const r = rng(seed);
  const files: Record<string, string> = {};
  const dirs: string[] = [];
  const noisy = r.chance(0.6);
  let budget = 1 + r.int(12);
  let sub = 0;
  // `everyType`: libpam reads the file for every type (the service file and
  // what it @includes), where a bad module name or a failing @include makes
  // it refuse the service; elsewhere those are left out (see the top).
  const fill = (name: string, depth: number, max: number, everyType: boolean) => {
    const lines: string[] = [];
    const lex = lexFile(r, noisy, everyType);
    // libpam's action array has been set by a line of the type read: a failing @include may follow.
    let actionsSet = false;
    const count = Math.max(1, Math.min(max, budget));
    const push = (line: string, sets: boolean) => {
      lines.push(writeLine(r, line, lex));
      actionsSet ||= sets;
    };
    for (let i = 0; i < count && budget > 0; i++) {
      while (noisy && r.chance(0.15)) lines.push(filler(r));
      if (noisy && r.chance(0.12)) push(otherTypeLine(r), false);
      if (noisy && r.chance(0.03)) {
        const odd = oddLine(r, everyType);
        if (odd.line) push(odd.line, odd.sets);
      }
      if (depth < 2 && budget > 1 && r.chance(0.14)) {
        const how = r.next();
        if (how < 0.1 && (everyType || actionsSet)) {
          const child = `sub${++sub}`;
          push(`${recase(r, '@include')} @DIR@/${child}`, false);
          fill(child, depth + 1, 1 + r.int(4), everyType);
          continue;
        }
        if (how < 0.22) {
          push(`${r.pick(['session', '-session'])} ${r.pick(['include', 'substack'])} ${emptyInclude(r, files, dirs, () => `e${++sub}`)}`, true);
          continue;
        }
        const child = `sub${++sub}`;
        push(`session ${recase(r, r.chance(0.5) ? 'include' : 'substack')} @DIR@/${child}`, true);
        fill(child, depth + 1, 1 + r.int(4), false);
        continue;
      }
      budget--;
      const type = noisy && r.chance(0.08) ? r.pick(ODD_TYPES) : r.chance(0.05) ? '-session' : 'session';
      push(`${type} ${control(r)} ${moduleLine(r)}`, true);
    }
    while (noisy && r.chance(0.1)) lines.push(filler(r));
    files[name] = joinFile(r, lines, lex);
  };
  fill('svc', 0, 12, true);
  return { files, main: 'svc', ...(dirs.length ? { dirs } : {}) };
}

/** An auth, account or password line: never run by a session, but read. */
function otherTypeLine(r: Rng): string {
  const type = `${r.chance(0.2) ? '-' : ''}${recase(r, r.pick(OTHER_TYPES))}`;
  if (r.chance(0.1)) return `${type} include @DIR@/nowhere`;
  return `${type} ${control(r)} ${r.pick(['pam_permit@EXT@', 'pam_deny@EXT@', 'pam_debug@EXT@ open_session=abort', 'pam_missing@EXT@'])}`;
}

/**
 * A malformed line, and whether it sets libpam's action array. Lines that
 * make libpam refuse the whole service only in a file read for every type.
 */
function oddLine(r: Rng, everyType: boolean): { line?: string; sets: boolean } {
  const k = r.int(everyType ? 12 : 9);
  switch (k) {
    case 0: return { line: `${r.pick(['sesion', 'sessions', 'session:'])} required pam_debug@EXT@ open_session=abort`, sets: true };
    case 1: return { line: `session ${r.pick(['requird', 'Optionl', 'include_', 'substacks'])} pam_permit@EXT@`, sets: true };
    case 2: return { line: `session ${r.pick(KEYWORDS)}`, sets: true };
    case 3: return { line: `session [] ${moduleLine(r)}`, sets: true };
    case 4: return { line: `session [success=ok default=bad ${moduleLine(r)}`, sets: true }; // unterminated: the rest is the control
    case 5: return { line: `session [${r.pick(ODD_PARTS)} default=ignore] ${moduleLine(r)}`, sets: true };
    case 6: return { line: `session ${r.pick(['include', 'substack'])} @DIR@/nowhere`, sets: true };
    case 7: return { line: `session include nonexistent-${r.int(1000)}`, sets: true }; // relative: missing here and in /etc/pam.d
    case 8: return { line: 'session', sets: true };
    // Refused whole by libpam (pam_start fails): a module name that is empty or "?", a failing @include.
    case 9: return { line: `${r.pick(['session', 'auth'])} required ${r.pick(['@EXT@', '?', '/lib/.so'])}`, sets: true };
    case 10: return { line: '@include @DIR@/nowhere', sets: false };
    default: return { line: 'session substack @DIR@/nowhere/', sets: true };
  }
}

/** A file to include that brings no line: empty, comments only, or a directory. */
function emptyInclude(r: Rng, files: Record<string, string>, dirs: string[], name: () => string): string {
  const n = name();
  const k = r.int(3);
  if (k === 0) files[n] = '';
  else if (k === 1) files[n] = '# nothing here\n\n   # nor here \\\n';
  else dirs.push(n);
  return `@DIR@/${n}`;
}

/** Writes the stack into `dir` with modules of extension `ext` ('.so' or '.wasm'). */
export function writeStack(stack: GeneratedStack, dir: string, ext: string): string {
  rmSync(dir, { recursive: true, force: true }); // a name that was a file may now be a directory
  mkdirSync(dir, { recursive: true });
  for (const d of stack.dirs ?? []) mkdirSync(join(dir, d), { recursive: true });
  for (const [name, text] of Object.entries(stack.files)) writeFileSync(join(dir, name), withModules(text, ext).replaceAll('@DIR@', dir));
  return join(dir, stack.main);
}

/** `pam_x@EXT@` as `./pam_x.so` (libpam prefixes its module directory) or `pam_x.wasm`: the same length. */
const withModules = (text: string, ext: string) =>
  text.replace(/(\S*?)@EXT@/g, (_, m: string) => (ext === '.so' && m.startsWith('pam_') ? `./${m}${ext}` : `${m}${ext}`));

export const render = (stack: GeneratedStack, ext = '.so') =>
  Object.entries(stack.files).map(([n, t]) => `== ${n}\n${JSON.stringify(withModules(t, ext)).slice(1, -1).replaceAll('\\n', '\\n\n')}`).join('\n');
