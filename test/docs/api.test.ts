/**
 * docs/api.md lists exactly what each entry point of package.json's
 * `exports` offers: every name an entry point's source exports is listed
 * under it with its kind (value or type), every listed name is exported,
 * every mapped file is there, and the names the README and the other docs
 * import are listed. test/package/install.test.ts then imports the same
 * list from the packed package.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../host/wit/index.js';
import { apiEntries, isValue, sourceExports, type ApiEntry } from '../support/api-doc.js';

const ROOT = packageRoot();
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string | { types: string; default: string }> };
const entries = apiEntries();

/** The `exports` key of a documented specifier: `pamwasm/stack` is `./stack`, `pamwasm/wit/` is `./wit/*`. */
const exportKey = (e: ApiEntry) => `.${e.specifier.slice('pamwasm'.length)}${e.specifier.endsWith('/') ? '*' : ''}`;

/** The TypeScript source behind a module entry: its `types` target, from dist/ back to host/. */
function sourceOf(e: ApiEntry): string {
  const target = pkg.exports[exportKey(e)];
  const types = typeof target === 'string' ? target : target.types;
  return join(ROOT, types.replace(/^\.\/dist\//, './').replace(/\.d\.ts$/, '.ts'));
}

const modules = entries.filter((e) => !e.specifier.endsWith('/'));
const folders = entries.filter((e) => e.specifier.endsWith('/'));

describe('docs/api.md', () => {
  it('has a section for every entry point of package.json, and none other', () => {
    expect(entries.map((e) => e.specifier)).toContain('pamwasm');
    expect(entries.map(exportKey).sort()).toEqual(Object.keys(pkg.exports).filter((k) => k !== './package.json').sort());
  });

  it.each(modules.map((e) => [e.specifier, e] as const))('lists exactly the names %s exports, values as values and types as types', (_, e) => {
    const exported = sourceExports(sourceOf(e));
    const listed = [...e.names].map(([n, k]) => [n, isValue(k) ? 'value' : 'type']);
    expect(listed.filter(([n]) => !exported.has(n)).map(([n]) => n), `docs/api.md:${e.at}: listed but not exported`).toEqual([]);
    expect([...exported.keys()].filter((n) => !e.names.has(n)), `docs/api.md:${e.at}: exported but not listed`).toEqual([]);
    expect(listed.filter(([n, k]) => exported.get(n) !== k).map(([n, k]) => `${n} is no ${k}`)).toEqual([]);
  });

  it.each(modules.filter((e) => e.specifier !== 'pamwasm/sdk').map((e) => [e.specifier, e] as const))('gives each value of %s its kind at run time', async (_, e) => {
    const m = (await import(sourceOf(e))) as Record<string, unknown>;
    const kindOf = (v: unknown) => (typeof v !== 'function' ? (v === undefined ? 'missing' : 'const') : /^class[\s{]/.test(Function.prototype.toString.call(v)) ? 'class' : 'function');
    const wrong = [...e.names].filter(([, k]) => isValue(k)).filter(([n, k]) => kindOf(m[n]) !== k && !(k === 'const' && kindOf(m[n]) !== 'missing'));
    expect(wrong.map(([n, k]) => `${n}: listed as ${k}, is ${kindOf(m[n])}`)).toEqual([]);
  });

  it.each(folders.map((e) => [e.specifier, e] as const))('lists files that %s maps, every header and WIT file among them', (_, e) => {
    const dir = join(ROOT, (pkg.exports[exportKey(e)] as string).replace(/\*$/, ''));
    expect([...e.names.values()].every((k) => k === 'file')).toBe(true);
    for (const f of e.names.keys()) expect(existsSync(join(dir, f)), `${dir}${f}`).toBe(true);
    const shipped = (sub: string, ext: string): string[] => (existsSync(join(dir, sub)) ? readdirSync(join(dir, sub), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(ext)).map((f) => join(sub, f)) : []);
    expect([...shipped('include', '.h'), ...shipped('.', '.wit')].filter((f) => !e.names.has(f))).toEqual([]);
  });

  it('lists every name the README and the docs import from the package', () => {
    const docs = [join(ROOT, 'README.md'), join(ROOT, 'guest-modules', 'README.md'), join(ROOT, 'guest-modules', 'sdk', 'js', 'README.md'),
      ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f))];
    const missing: string[] = [];
    for (const file of docs) {
      for (const m of readFileSync(file, 'utf8').matchAll(/import\s*\{([^}]*)\}\s*from\s*'(pamwasm(?:\/[a-z]+)?)'/g)) {
        const entry = entries.find((e) => e.specifier === m[2]);
        for (const item of m[1].split(',').map((s) => s.trim()).filter(Boolean)) {
          const name = item.replace(/^type\s+/, '').split(/\s+as\s+/)[0];
          if (!entry?.names.has(name)) missing.push(`${file.slice(ROOT.length + 1)}: ${name} from '${m[2]}'`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
