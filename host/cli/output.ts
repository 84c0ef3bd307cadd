/**
 * Terminal output helpers: colour only on a TTY and never with NO_COLOR set
 * (no-color.org), aligned tables, PAM code names and message tags.
 */
import { PAM } from '../codes/index.js';

const useColour = (stream: NodeJS.WriteStream) => Boolean(stream.isTTY) && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '');

const paint = (code: number) => (text: string, stream: NodeJS.WriteStream = process.stdout) =>
  useColour(stream) ? `\x1b[${code}m${text}\x1b[0m` : text;

export const green = paint(32);
export const red = paint(31);
export const dim = paint(2);
export const bold = paint(1);

/** Pads columns to a table; the first row is the header. */
export function table(rows: string[][]): string {
  // eslint-disable-next-line no-control-regex
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => visible(r[c] ?? ''))));
  return rows
    .map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell + ' '.repeat(widths[c] - visible(cell)))).join('  ').trimEnd())
    .join('\n');
}

/** A PAM code's name, green for PAM_SUCCESS and red otherwise; `(none)` when there is no name. */
export function codeName(name: string | undefined, code: number | undefined): string {
  if (name === undefined) return '(none)';
  return code === PAM.SUCCESS.number ? green(name) : red(name);
}

/** A conversation message's style as a five-column tag: `error` in red, else `info `. */
export const messageTag = (m: { style: string }): string => (m.style === 'error' ? red('error') : 'info ');
