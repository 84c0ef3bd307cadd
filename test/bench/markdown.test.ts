/**
 * `pamwasm bench --markdown [--write FILE]`: the tables of a real run (the
 * close group, about a second) as Markdown, put into a page between its
 * markers and nowhere else; and docs/performance.md holds tables in that
 * format, with every measure the bench has, so that the page cannot keep a
 * row the bench no longer prints.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verdicts } from '../../host/bench/goals.js';
import { BENCH_END, BENCH_START } from '../../host/bench/markdown.js';
import { packageRoot } from '../../host/wit/index.js';
import { oneSentence, pamwasm, scratch } from '../support/cli.js';

const { file, remove } = scratch('pamwasm-bench-md-');
afterAll(remove);

/** The rows of the first Markdown table in `text` whose header starts with `| measure |`. */
function measureRows(text: string): string[][] {
  const lines = text.split('\n');
  const head = lines.findIndex((l) => l.startsWith('| measure |'));
  if (head < 0) return [];
  const rows: string[][] = [];
  for (let i = head; i < lines.length && lines[i].startsWith('|'); i++) {
    rows.push(lines[i].slice(2, -2).split(' | ').map((c) => c.trim()));
  }
  return rows;
}

describe('pamwasm bench --markdown', () => {
  it('prints every measure as a Markdown row with its figure, baseline, ratio, goal and verdict', () => {
    const r = pamwasm('bench', '--group', 'close', '--markdown');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Written by `pamwasm bench --group close --markdown` on \d{4}-\d\d-\d\d: .*Node 2\d.*load/);
    const rows = measureRows(r.stdout);
    expect(rows[0]).toEqual(['measure', 'figure', 'baseline', 'ratio', 'goal', 'met']);
    expect(rows[1].every((c) => c === '---')).toBe(true);
    expect(rows.slice(2).map((row) => row[0])).toEqual(verdicts({}).map((v) => v.what.trim()));
    const sandboxed = rows.find((row) => row[0] === 'close: pam_permit.wasm, full sandbox')!;
    expect(sandboxed[1]).toMatch(/^\d+(\.\d+)? us$/);
    expect(sandboxed[2]).toMatch(/ us native$/);
    expect(sandboxed[3]).toMatch(/^\d+(\.\d+)?x$/);
    expect(['met', 'MISSED']).toContain(sandboxed[5]);
    // A group that did not run leaves its rows unmeasured, never invented.
    expect(rows.find((row) => row[0] === 'cold load, C module (no disk cache)')![1]).toBe('-');
  });

  it('writes the tables between the markers of a page and leaves the rest of it as it was', () => {
    const before = `# A page\n\nintro\n${BENCH_START}\nold table\n${BENCH_END}\n\nafter\n`;
    const page = file('page.md', before);
    const r = pamwasm('bench', '--group', 'close', '--markdown', '--write', page);
    expect(r.code, r.stderr).toBe(0);
    const after = readFileSync(page, 'utf8');
    expect(after.startsWith(`# A page\n\nintro\n${BENCH_START}\n`)).toBe(true);
    expect(after.endsWith(`\n${BENCH_END}\n\nafter\n`)).toBe(true);
    expect(after).not.toContain('old table');
    const inside = after.slice(after.indexOf(BENCH_START) + BENCH_START.length, after.indexOf(BENCH_END)).trim();
    expect(inside).toBe(r.stdout.trim());
  });

  it('refuses a page without its markers before running anything, and leaves the page alone', () => {
    const text = '# no markers here\n';
    const page = file('bare.md', text);
    const started = performance.now();
    const r = pamwasm('bench', '--group', 'close', '--markdown', '--write', page);
    expect(r.code).toBe(2);
    oneSentence(r.stderr); // one line: no progress lines, nothing was measured
    expect(r.stderr).toContain(BENCH_START);
    expect(performance.now() - started).toBeLessThan(60_000);
    expect(readFileSync(page, 'utf8')).toBe(text);
  });

  it('takes --write only with --markdown, and not --json with --markdown', () => {
    const alone = pamwasm('bench', '--group', 'close', '--write', file('w.md', `${BENCH_START}\n${BENCH_END}\n`));
    expect(alone.code).toBe(2);
    oneSentence(alone.stderr);
    expect(alone.stderr).toMatch(/add --markdown/);
    const both = pamwasm('bench', '--group', 'close', '--json', '--markdown');
    expect(both.code).toBe(2);
    oneSentence(both.stderr);
    expect(both.stderr).toMatch(/--json or --markdown/);
  });
});

describe('docs/performance.md', () => {
  const page = readFileSync(join(packageRoot(), 'docs', 'performance.md'), 'utf8');

  it('holds the bench tables between its markers, with every measure the bench prints and no other', () => {
    const start = page.indexOf(BENCH_START);
    const end = page.indexOf(BENCH_END);
    expect(start, 'the page has its bench markers').toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    const inside = page.slice(start, end);
    expect(inside).toMatch(/Written by `pamwasm bench[^`]* --markdown` on \d{4}-\d\d-\d\d: .*load/);
    const rows = measureRows(inside);
    expect(rows[0]).toEqual(['measure', 'figure', 'baseline', 'ratio', 'goal', 'met']);
    // The rows every run prints, and in their order the rows only some runs
    // print (the depth fit and the sessions held open, when those groups ran).
    // A row's name may hold its run's range (`depth 1-32`): compare without it.
    const name = (what: string) => what.trim().replace(/depth \d+-\d+/, 'depth N-M');
    const names = rows.slice(2).map((row) => name(row[0]));
    const always = verdicts({}).map((v) => name(v.what));
    const every = verdicts({
      'depth.1.wasm_us': 1, 'depth.1.native_us': 1, 'depth.2.wasm_us': 2, 'depth.2.native_us': 2,
      'concurrent.10000.opened': 1, 'concurrent_default.n': 10_000,
    }).map((v) => name(v.what));
    expect(names.filter((n) => always.includes(n))).toEqual(always);
    expect(names).toEqual(every.filter((n) => names.includes(n)));
  });
});
