/**
 * The docs name files of the repository (docs/architecture.md walks a
 * session through them): every path they name must exist, so that a file
 * moved or renamed without its page fails here rather than misleading a
 * reader. A path is a word starting with one of the repository's top-level
 * folders (`host/stack/session.ts`, `guest-modules/sdk/c`), in the text or
 * in a link; a link to a page (`[daemon.md](daemon.md)`) is resolved from
 * the folder of the page that holds it.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { packageRoot } from '../../host/wit/index.js';

const ROOT = packageRoot();
const PAGES = ['README.md', 'CHANGELOG.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Top-level folders whose files the docs name; `dist/` is built, not kept, so it is left out. */
const TOP = ['bin', 'docs', 'examples', 'guest-modules', 'host', 'scripts', 'test', 'wit'];
/**
 * Pages another part of the codebase writes alongside its code (the error
 * codes' table, with host/errors): linked from here before they land.
 */
const WRITTEN_WITH_THEIR_CODE = new Set(['docs/errors.md']);

/** A named path as the file system knows it: no `:line`, `#anchor` or sentence punctuation, and up to its first wildcard. */
function clean(path: string): string {
  return path.replace(/[#:].*$/, '').replace(/[.,;)]+$/, '').replace(/\/?[^/]*[*{<].*$/, '');
}

/** Every repository path a page names, with the line it is on. */
function namedPaths(page: string): { path: string; line: number }[] {
  const text = readFileSync(join(ROOT, page), 'utf8');
  const out: { path: string; line: number }[] = [];
  const word = new RegExp(`(?<![\\w./~<>-])((?:${TOP.join('|')})/[\\w./*{},<>@-]*)`, 'g');
  const link = /\]\(([^)\s]+)\)/g;
  text.split('\n').forEach((l, i) => {
    for (const [, p] of l.matchAll(word)) out.push({ path: clean(p), line: i + 1 });
    for (const [, target] of l.matchAll(link)) {
      if (/^[a-z]+:/.test(target) || target.startsWith('#')) continue;
      out.push({ path: clean(relative(ROOT, join(ROOT, dirname(page), target))), line: i + 1 });
    }
  });
  return out.filter((p) => p.path !== '');
}

describe('the docs', () => {
  it('include the pages a reader is sent to', () => {
    for (const page of ['docs/architecture.md', 'docs/sandbox.md', 'docs/performance.md', 'docs/pam_exec.md', 'docs/daemon.md', 'docs/sdks.md', 'CHANGELOG.md']) {
      expect(existsSync(join(ROOT, page)), page).toBe(true);
    }
  });

  it.each(PAGES)('%s names only paths that exist in the repository', (page) => {
    const named = namedPaths(page);
    expect(named.length, `${page} names no repository path`).toBeGreaterThan(0);
    const missing = named.filter((p) => !existsSync(join(ROOT, p.path)) && !WRITTEN_WITH_THEIR_CODE.has(p.path)).map((p) => `${page}:${p.line}: ${p.path}`);
    expect(missing).toEqual([]);
  });

  it.each(PAGES)('%s links only to headings that exist', (page) => {
    // GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
    const slug = (heading: string) => heading.toLowerCase().replace(/[^\w\s-]/g, '').trim().replace(/\s/g, '-');
    const anchors = (file: string) => new Set([...readFileSync(file, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1])));
    const text = readFileSync(join(ROOT, page), 'utf8');
    const broken: string[] = [];
    for (const [, target, anchor] of text.matchAll(/\]\(([^)\s#]*\.md)?#([^)\s]+)\)/g)) {
      const file = join(ROOT, dirname(page), target ?? relative(dirname(page), page));
      if (!WRITTEN_WITH_THEIR_CODE.has(relative(ROOT, file)) && !anchors(file).has(anchor)) broken.push(`${target ?? ''}#${anchor}`);
    }
    expect(broken).toEqual([]);
  });

  it('walk one session in docs/architecture.md down the layers, never naming a file of a layer above', () => {
    const text = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
    const walk = text.slice(text.indexOf('## One session'), text.indexOf('### And back'));
    const sections = walk.split(/^### /m).slice(1);
    expect(sections.map((s) => s.split('\n')[0])).toEqual(['Entry point', 'Stack', 'Loader', 'Sandbox', 'Runtime and the hook']);
    // The layers in the order of the page's table (host/codes, host/errors and the guest belong to none).
    const layers = [['bin/', 'host/cli/'], ['host/stack/'], ['host/loader/'], ['host/sandbox/'], ['host/runtime/']];
    const layerOf = (path: string) => layers.findIndex((prefixes) => prefixes.some((p) => path.startsWith(p)));
    sections.forEach((section, at) => {
      const named = [...section.matchAll(/`((?:bin|host)\/[^`\s]+)`/g)].map((m) => m[1]);
      expect(named.some((p) => layerOf(p) === at), `the ${section.split('\n')[0]} steps name a file of their layer`).toBe(true);
      for (const path of named.filter((p) => layerOf(p) >= 0)) expect(layerOf(path), `${path} in the ${section.split('\n')[0]} steps`).toBeGreaterThanOrEqual(at);
    });
  });
});
