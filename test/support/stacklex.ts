/**
 * The lexical side of random pam.d files: one logical line (single spaces
 * between its tokens) written as a pam.d file may write it, with blanks and
 * tabs, trailing comments, continued lines (with blank and comment lines in
 * between, which libpam skips), lines past libpam's 1024-byte buffer, CRLF
 * line ends and a last line without its newline.
 *
 * Module tokens are written `pam_x@EXT@`: writeStack makes them
 * `./pam_x.so` for libpam and `pam_x.wasm` for pamwasm, the same length, so
 * a long line is cut at the same byte in both files.
 */
type Rng = { next: () => number; int: (n: number) => number; pick: <T>(xs: readonly T[]) => T; chance: (p: number) => boolean };

const blank = (r: Rng) => r.pick([' ', ' ', ' ', '\t', '  ', ' \t', '\t\t']);
const COMMENTS = ['# comment', '#', '# session required pam_deny@EXT@', '#\\', '# a \\ b', '##[x]'];

/** libpam's line buffer, less its NUL: where a long line is cut. */
const CUT = 1023;
/** Tokens that may follow a cut: they become a logical line of their own. */
const SPILL = ['session', 'required', 'optional', 'sufficient', 'pam_deny@EXT@', 'pam_permit@EXT@', 'open_session=abort',
  'open_session=session_err', 'close_session=success', '[success=ok]', 'auth'];

export interface LexOptions {
  /** Continued lines, comments and long lines may be used. */
  noisy: boolean;
  /**
   * The file's lines end in CRLF (see {@link lexFile}). A backslash before
   * the CR is text, not a continuation: the rest of the line is read as a
   * line of its own, its tokens one or two places to the left.
   */
  crlf: boolean;
  /**
   * A CRLF file may hold backslash-newlines. Only in a file read for every
   * type: elsewhere a line cut so may put an argument such as `[]` in the
   * module field, a module that names nothing, which Linux-PAM 1.5.2 leaves
   * half added in an included file and then crashes on (docs/stacks.md).
   */
  crlfContinued: boolean;
}

/** How a file is written: noisy or plain, and whether its lines end in CRLF. */
export function lexFile(r: Rng, noisy: boolean, everyType: boolean): LexOptions {
  return { noisy, crlf: noisy && r.chance(0.04), crlfContinued: everyType };
}

/**
 * Writes one logical line. A line that names an include file (`@DIR@`) is
 * never made long: the two directories' names have the same length, but
 * keeping includes short keeps the cut away from them.
 */
export function writeLine(r: Rng, line: string, o: LexOptions): string {
  let toks = line.split(' ');
  // Brackets hold blanks: keep `[a b]` one piece.
  toks = toks.reduce<string[]>((acc, t) => {
    const last = acc.at(-1);
    if (last !== undefined && last.startsWith('[') && !/(^|[^\\])\]/.test(last.slice(1))) acc[acc.length - 1] = `${last} ${t}`;
    else acc.push(t);
    return acc;
  }, []);
  const lead = o.noisy && r.chance(0.2) ? blank(r) : '';
  if (o.noisy && r.chance(0.04) && !line.includes('@DIR@') && !line.includes('\\')) return lead + longLine(r, toks, lead.length);
  const continued = o.noisy && (!o.crlf || o.crlfContinued);
  let out = lead + toks[0];
  for (const t of toks.slice(1)) {
    if (continued && r.chance(0.06)) out += continuation(r);
    else out += r.chance(0.85) ? ' ' : blank(r);
    // A continued line inside a bracket: libpam joins it with a space.
    out += continued && t.startsWith('[') && t.includes(' ') && r.chance(0.1) ? t.replace(' ', ` \\\n${r.chance(0.5) ? ' ' : ''}`) : t;
  }
  if (o.noisy && r.chance(0.1)) out += blank(r);
  if (o.noisy && r.chance(0.08)) out += `${r.chance(0.7) ? ' ' : ''}${r.pick(COMMENTS)}`;
  return out;
}

/** A backslash-newline, maybe with blank and comment lines before the rest. */
function continuation(r: Rng): string {
  let s = `${r.chance(0.7) ? ' ' : ''}\\${r.chance(0.1) ? ' ' : ''}\n`;
  while (r.chance(0.25)) s += r.pick(['\n', '   \n', '# in between\n', '\t# x\n']);
  return s + (r.chance(0.5) ? blank(r) : '');
}

/**
 * The line with a filler argument (letters only, so no piece of it names a
 * bad module) placed after its module, so that libpam's cut at byte 1023
 * falls inside the filler or right after it, and a few tokens follow that
 * become a line of their own; or, sometimes, a long line that just fits.
 */
function longLine(r: Rng, toks: string[], lead: number): string {
  const head = toks.slice(0, 3).join(' ');
  const rest = toks.slice(3).join(' ');
  const width = (s: string) => Buffer.byteLength(s.replaceAll('@EXT@', '.wasm'));
  const before = lead + width(head) + 1 + (rest ? width(rest) + 1 : 0);
  if (r.chance(0.25)) {
    // Fits: the whole line, its newline included, in 1023 bytes.
    const fill = Math.max(1, CUT - 1 - before - r.int(3));
    return `${head}${rest ? ` ${rest}` : ''} ${'y'.repeat(fill)}`;
  }
  const fill = Math.max(1, CUT - before + r.int(2)); // the cut after `fill - 1` or `fill` letters
  const spill: string[] = [];
  for (let i = r.int(4); i > 0; i--) spill.push(r.pick(SPILL));
  return `${head}${rest ? ` ${rest}` : ''} ${'z'.repeat(fill)}${spill.length ? ` ${spill.join(' ')}` : ''}`;
}

/** Lines that a file may hold between its lines, which libpam skips. */
export function filler(r: Rng): string {
  return r.pick(['', '   ', '\t', '# a comment', '  # indented comment', '#session required pam_deny@EXT@', '# ends in \\']);
}

/** Joins a file's written lines: LF or CRLF, with or without a last newline. */
export function joinFile(r: Rng, lines: string[], o: LexOptions): string {
  const { crlf } = o;
  let text = lines.map((l) => (crlf ? l.replaceAll('\n', '\r\n') : l)).join(crlf ? '\r\n' : '\n');
  if (lines.length && !(o.noisy && r.chance(0.1))) text += crlf ? '\r\n' : '\n';
  return text;
}
