/**
 * Reading pam.d files the way libpam does (libpam/pam_handlers.c,
 * _pam_assemble_line, and pam_misc.c, _pam_StrTok), byte for byte: the
 * text given here is the file's bytes as latin1 (one char a byte), so that
 * libpam's 1024-byte line buffer cuts where libpam cuts; `fromBytes` turns
 * a token back into UTF-8 text.
 *
 * Logical lines: a line whose first non-blank character is `#`, or that is
 * blank, is skipped, also in the middle of a continued line; a `#` cuts the
 * rest of its line and ends the logical line (a backslash before it stays);
 * a backslash that is the last non-blank character is replaced by a space
 * and the next line is appended. Blanks are space, tab and newline only: a
 * carriage return is text. A line longer than the buffer is read in pieces,
 * each piece a logical line of its own.
 *
 * Tokens are split on space, tab and newline; a token that starts with `[`
 * runs to the first `]` (`\]` inside stands for `]`) and loses its brackets.
 */

/** libpam's BUF_SIZE: its line buffer, the terminating NUL included. */
export const BUF_SIZE = 1024;

export interface LogicalLine {
  /** 1-based number of the physical line where the logical line starts. */
  line: number;
  text: string;
}

export interface AssembleResult {
  lines: LogicalLine[];
  /**
   * Set when libpam stops reading the file with an error (it then rejects
   * the file): `unterminated`, the file ends inside a continued line;
   * `stuck`, a continued line fills the buffer up to its last byte, where
   * libpam's reader loops for ever (fgets with room for nothing).
   */
  end?: { line: number; why: 'unterminated' | 'stuck' };
}

const BLANK = ' \n\t';
const isBlank = (c: string) => c === ' ' || c === '\n' || c === '\t';

/** Bytes (as latin1) back to text. */
export const fromBytes = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');
/** Text to bytes (as latin1), the form assembleLines reads. */
export const toBytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

export function assembleLines(source: string): AssembleResult {
  const lines: LogicalLine[] = [];
  let pos = 0;
  let physical = 1;
  // fgets(buf, room): at most room-1 bytes, up to and including a newline.
  // Text after a NUL byte is read but, as C strings end there, not seen.
  const fgets = (room: number): string | undefined => {
    if (pos >= source.length) return undefined;
    let end = Math.min(pos + room - 1, source.length);
    const nl = source.indexOf('\n', pos);
    if (nl >= 0 && nl < end) end = nl + 1;
    const chunk = source.slice(pos, end);
    pos = end;
    const nul = chunk.indexOf('\0');
    return nul >= 0 ? chunk.slice(0, nul) : chunk;
  };
  for (;;) {
    let buffer = '';
    let used = false;
    let first = 0;
    for (;;) {
      const room = BUF_SIZE - buffer.length;
      // glibc's fgets with room for nothing but the NUL reads nothing and
      // succeeds, so libpam's loop never ends; pamwasm rejects the file.
      if (room === 1) return { lines, end: { line: first, why: 'stuck' } };
      const startLine = physical;
      const chunk = fgets(room);
      if (chunk === undefined) {
        return used ? { lines, end: { line: first, why: 'unterminated' } } : { lines };
      }
      if (source[pos - 1] === '\n') physical++;
      let s = 0;
      while (s < chunk.length && isBlank(chunk[s])) s++;
      if (s >= chunk.length || chunk[s] === '#') continue; // nothing here: the next line goes in its place
      if (!used) first = startLine;
      used = true;
      const hash = chunk.indexOf('#', s);
      if (hash >= 0) {
        buffer += chunk.slice(0, hash);
        break;
      }
      let e = chunk.length - 1;
      while (e > s && isBlank(chunk[e])) e--;
      if (chunk[e] !== '\\') {
        buffer += chunk;
        break;
      }
      buffer += `${chunk.slice(0, e)} `;
    }
    lines.push({ line: first, text: buffer });
  }
}

export interface Token {
  text: string;
  /** Written in brackets (`[a b]`): the brackets are gone from text. */
  bracketed: boolean;
}

/** Splits a logical line into libpam's tokens, saying which were bracketed. */
export function splitTokens(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && BLANK.includes(text[i])) i++;
    if (i >= text.length) return out;
    let tok = '';
    if (text[i] === '[') {
      i++;
      while (i < text.length && text[i] !== ']') {
        if (text[i] === '\\' && text[i + 1] === ']') i++;
        tok += text[i++];
      }
      out.push({ text: tok, bracketed: true });
    } else {
      while (i < text.length && !BLANK.includes(text[i])) tok += text[i++];
      out.push({ text: tok, bracketed: false });
    }
    i++; // the closing bracket or the blank that ended the token
  }
}

/** Splits a logical line into libpam's tokens. */
export const tokenize = (text: string): string[] => splitTokens(text).map((t) => t.text);
