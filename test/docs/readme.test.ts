/**
 * The README's example outputs are the CLI's real outputs, so they cannot
 * go stale: every block that shows a command with its output (a ```sh block
 * of one `pamwasm` command followed by a plain block, or a plain block whose
 * first line is `$ pamwasm ...`) is run from the repository root and
 * compared line by line. In the README, a line `...` stands for any lines
 * and `…` inside a line for any text (an elided hash keeps its prefix).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../host/wit/index.js';

const ROOT = packageRoot();
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Example { command: string; expected: string[]; at: number }

/** The fenced blocks of a Markdown text: info string, lines, and the line number of the fence. */
function blocks(text: string): { info: string; lines: string[]; at: number }[] {
  const out: { info: string; lines: string[]; at: number }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const at = i + 1;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith('```'); i++) body.push(lines[i]);
    out.push({ info: open[1], lines: body, at });
  }
  return out;
}

function examples(): Example[] {
  const bs = blocks(README);
  const out: Example[] = [];
  bs.forEach((b, i) => {
    const next = bs[i + 1];
    if (b.info === 'sh' && b.lines.length === 1 && b.lines[0].startsWith('pamwasm ') && next && next.info === '' && next.at === b.at + b.lines.length + 2) {
      out.push({ command: b.lines[0], expected: next.lines, at: b.at });
    } else if (b.info === '' && b.lines[0]?.startsWith('$ pamwasm ')) {
      out.push({ command: b.lines[0].slice(2), expected: b.lines.slice(1), at: b.at });
    }
  });
  return out;
}

/** Whether `actual` lines fit the documented ones (`...` lines and `…` text as wildcards). */
function fits(expected: string[], actual: string[]): boolean {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = expected.map((l) => (l.trim() === '...' ? '(?:[^\\n]*\\n)*?' : `${l.trimEnd().split('…').map(escape).join('[^\\n]*')}\\n`)).join('');
  return new RegExp(`^${pattern}$`).test(`${actual.map((l) => l.trimEnd()).join('\n')}\n`);
}

/** Runs a README command as `node bin/pamwasm.js ...` from the repository root. */
function run(command: string): string[] {
  const args = command.split(/\s+/).slice(1);
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'pamwasm.js'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000 });
  return r.stdout.trimEnd().split('\n');
}

describe('README', () => {
  const found = examples();

  it('shows commands with their outputs', () => {
    expect(found.map((e) => e.command)).toEqual(expect.arrayContaining([
      'pamwasm run --stack examples/first.stack --service login --user alice --tty pts/0 --rhost 192.0.2.7',
      'pamwasm check examples/first.stack',
      'pamwasm inspect guest-modules/dist/pam_echo.wasm',
    ]));
  });

  it.each(found.map((e) => [`README.md:${e.at}: ${e.command}`, e] as const))('%s prints what the README shows', (_, e) => {
    const actual = run(e.command);
    expect(fits(e.expected, actual), `README.md:${e.at} shows\n${e.expected.join('\n')}\nbut the command prints\n${actual.join('\n')}`).toBe(true);
  });

  it('names every key of run --json, and nothing else', () => {
    const sentence = /Add `--json` for one JSON object[^`]*`(\{[^`]*\})`/.exec(README);
    expect(sentence).not.toBeNull();
    const documented = [...sentence![1].matchAll(/"(\w+)": /g)].map((m) => m[1]).filter((k) => !['code', 'name'].includes(k));
    const out = run('pamwasm run --stack examples/first.stack --service login --user alice --json');
    expect(documented.sort()).toEqual(Object.keys(JSON.parse(out.at(-1)!)).sort());
  });

  it('runs every stack file it names, and shows examples/demo.stack as it is', () => {
    // Folders a `pamwasm new NAME` line of the README writes before its stack is run.
    const made = new Set([...README.matchAll(/pamwasm new (\w+)/g)].map((m) => m[1]));
    for (const [, stack] of README.matchAll(/--stack (?!\/)(\S+\.stack)/g)) {
      if (made.has(stack.split('/')[0])) continue;
      expect(() => readFileSync(join(ROOT, stack)), `README names ${stack}`).not.toThrow();
    }
    const shown = blocks(README).find((b) => b.info === '' && b.lines[0]?.startsWith('session required') && b.lines.some((l) => l.includes('pam_echo.wasm [Hello')));
    expect(shown, 'the stack-file example').toBeDefined();
    expect(`${shown!.lines.join('\n')}\n`).toBe(readFileSync(join(ROOT, 'examples', 'demo.stack'), 'utf8'));
  });

  it('is a front door of at most 14 KB, with its sections, linking every page of docs/', () => {
    // The rest belongs in docs/: a README that grows past this is telling you a page is missing.
    expect(Buffer.byteLength(README, 'utf8')).toBeLessThanOrEqual(14_000);
    const sections = [...README.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(sections).toEqual(['Two commands', 'A tour', 'Writing a module', 'Embedding', 'Deploying', 'Documentation']);
    const pages = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'));
    for (const page of [...pages, 'errors.md']) expect(README, `README links docs/${page}`).toContain(`](docs/${page})`);
    expect(README).toContain('](CHANGELOG.md)');
  });

  it('passes module arguments with spaces in brackets, never in quotes, which libpam would keep', () => {
    for (const b of blocks(README).filter((x) => x.lines.some((l) => /^-?session\s/.test(l)))) {
      for (const l of b.lines) expect(l, `README.md:${b.at}`).not.toMatch(/\.wasm\S*\s+.*"/);
    }
  });
});
