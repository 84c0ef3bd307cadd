/**
 * `pamwasm bench --markdown [--write FILE]`: the report as Markdown tables,
 * and written into a page between two markers, so that docs/performance.md
 * holds what a run printed rather than figures copied by hand.
 *
 * @example
 *   const page = readFileSync('docs/performance.md', 'utf8');
 *   writeFileSync('docs/performance.md', replaceBetweenMarkers(page, markdownReport(report), 'docs/performance.md'));
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { usage } from '../cli/usage.js';
import { concurrencyTable, depthTable, verdicts, verdictTable } from './goals.js';
import type { BenchReport } from './index.js';

export const BENCH_START = '<!-- bench:start -->';
export const BENCH_END = '<!-- bench:end -->';

/** A cell as Markdown shows it literally: a `|` would end the cell. */
const cell = (s: string) => s.trim().replace(/\|/g, '\\|');

/** Rows (the first is the header) as a Markdown table. */
export function markdownTable(rows: string[][]): string {
  const [head, ...body] = rows;
  return [head, head.map(() => '---'), ...body].map((r) => `| ${r.map(cell).join(' | ')} |`).join('\n');
}

/**
 * The report as Markdown: which run made it, every measure against its
 * target (a row that this run did not measure shows `-`), then the depth and
 * concurrency rows when the run measured them, then the notes.
 */
export function markdownReport(report: BenchReport): string {
  const measures = verdictTable(verdicts(report.results));
  measures[0][5] = 'met';
  const groups = report.groups.length ? report.groups.map((g) => ` --group ${g}`).join('') : '';
  const out = [
    `Written by \`pamwasm bench${report.quick ? ' --quick' : ''}${groups} --markdown\` on ${report.started.slice(0, 10)}: ${report.machine}.`,
    '',
    markdownTable(measures),
  ];
  const depth = depthTable(report.results);
  if (depth.length > 1) out.push('', 'Stack depth (pam_permit on every line; a session is start to end):', '', markdownTable(depth));
  const held = concurrencyTable(report.results);
  if (held.length > 1) out.push('', 'Sessions open at once (3-line C stack, node --disable-wasm-trap-handler; per session):', '', markdownTable(held));
  const notes = Object.entries(report.notes);
  if (notes.length) out.push('', 'Notes:', '', ...notes.map(([k, v]) => `- ${k}: ${v}`));
  return out.join('\n');
}

/**
 * `page` with what lies between its bench markers replaced by `text`; the
 * markers and everything outside them stay as they are. A page without
 * exactly one start marker followed by one end marker is a usage error.
 */
export function replaceBetweenMarkers(page: string, text: string, name: string): string {
  const start = page.indexOf(BENCH_START);
  const end = page.indexOf(BENCH_END);
  const once = start >= 0 && end > start && page.indexOf(BENCH_START, start + 1) < 0 && page.indexOf(BENCH_END, end + 1) < 0;
  if (!once) throw usage(`${name} must hold one ${BENCH_START} line followed by one ${BENCH_END} line, between which bench --write puts its tables`, 'bench');
  return `${page.slice(0, start + BENCH_START.length)}\n${text}\n${page.slice(end)}`;
}

/** Reads `file` and checks its markers: done before a run, so that a bad page does not waste one. */
export function readPage(file: string): string {
  let page: string;
  try {
    page = readFileSync(file, 'utf8');
  } catch (e) {
    throw usage(`bench --write cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'bench');
  }
  replaceBetweenMarkers(page, '', file);
  return page;
}

/** Puts `text` between the markers of `file` (read again, so that edits made during the run are kept). */
export function writeBetweenMarkers(file: string, text: string): void {
  writeFileSync(file, replaceBetweenMarkers(readPage(file), text, file));
}
