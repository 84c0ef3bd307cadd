/**
 * Reading pam.d files the way libpam does: logical lines (comments cut at
 * `#`, a trailing backslash joins the next line with a space) and tokens
 * split on blanks, where a token that starts with `[` runs to the first `]`
 * (`\]` inside stands for `]`) and loses its brackets.
 */

export interface LogicalLine {
  /** 1-based number of the first physical line. */
  line: number;
  text: string;
}

export interface AssembleResult {
  lines: LogicalLine[];
  /** Set when the file ends inside a continued line (libpam rejects the file). */
  unterminated?: number;
}

export function assembleLines(source: string): AssembleResult {
  const physical = source.split(/(?<=\n)/);
  const lines: LogicalLine[] = [];
  let assembled: string | null = null;
  let first = 0;
  let continuing = false;
  physical.forEach((raw, n) => {
    let text = raw;
    // A backslash that is the last non-blank character continues the line;
    // libpam replaces it with a space (pam_assemble_line.h).
    let q = text.length;
    while (q > 0 && ' \t\n'.includes(text[q - 1])) q--;
    const backslash = text[Math.max(q - 1, 0)] === '\\';
    if (backslash) text = `${text.slice(0, Math.max(q - 1, 0))} `;
    // A comment ends the logical line, even after a continuation backslash.
    const eol = !backslash || text.includes('#');
    text = text.replace(/^[ \t]+/, '');
    const hash = text.indexOf('#');
    if (hash >= 0) text = text.slice(0, hash);
    if (assembled === null && text !== '' && !(eol && text[0] === '\n')) first = n + 1;
    if (eol) {
      if (assembled !== null || (text !== '' && text[0] !== '\n')) assembled = (assembled ?? '') + text;
      if (assembled) lines.push({ line: first, text: assembled });
      assembled = null;
      continuing = false;
    } else {
      if (text !== '') assembled = (assembled ?? '') + text;
      continuing = true;
    }
  });
  return continuing ? { lines, unterminated: first || physical.length } : { lines };
}

const DELIMS = ' \n\t';

/** Splits a logical line into libpam tokens. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && DELIMS.includes(text[i])) i++;
    if (i >= text.length) return out;
    if (text[i] === '[') {
      let tok = '';
      i++;
      while (i < text.length && text[i] !== ']') {
        if (text[i] === '\\' && text[i + 1] === ']') i++;
        tok += text[i++];
      }
      out.push(tok);
      i++; // the closing bracket, or past the end
    } else {
      let tok = '';
      while (i < text.length && !DELIMS.includes(text[i])) tok += text[i++];
      out.push(tok);
      i++;
    }
  }
}
