/**
 * docs/api.md read as data: the names each entry point of the package
 * offers, with their kind. The docs test compares it with the entry points'
 * sources, and the package test imports every name from the packed
 * package, so the page, the sources and the package cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { packageRoot } from '../../host/wit/index.js';

export const API_DOC = join(packageRoot(), 'docs', 'api.md');

/** What a documented name is: a value (function, class, const), a type, or a file under the entry's folder. */
export type ApiKind = 'function' | 'class' | 'const' | 'type' | 'file';

export interface ApiEntry {
  /** The specifier, e.g. `pamwasm/stack`, or a pattern's prefix (`pamwasm/sdk/c/`) for files. */
  specifier: string;
  names: Map<string, ApiKind>;
  /** The 1-based line of the entry's heading. */
  at: number;
}

const KINDS = new Set<ApiKind>(['function', 'class', 'const', 'type', 'file']);

/**
 * The entry points of docs/api.md: each `## \`SPECIFIER\`` heading
 * followed by a table whose rows start `| \`name\` | kind |`.
 */
export function apiEntries(text = readFileSync(API_DOC, 'utf8')): ApiEntry[] {
  const out: ApiEntry[] = [];
  let current: ApiEntry | undefined;
  text.split('\n').forEach((line, i) => {
    const heading = /^## `([^`]+)`\s*$/.exec(line);
    if (heading) {
      current = { specifier: heading[1].replace(/\*$/, ''), names: new Map(), at: i + 1 };
      out.push(current);
      return;
    }
    if (/^## /.test(line)) current = undefined;
    const row = /^\| `([^`]+)` \| (\w+) \|/.exec(line);
    if (!row || !current) return;
    if (!KINDS.has(row[2] as ApiKind)) throw new Error(`docs/api.md:${i + 1}: kind "${row[2]}" is none of ${[...KINDS].join(', ')}`);
    if (current.names.has(row[1])) throw new Error(`docs/api.md:${i + 1}: ${row[1]} is listed twice under ${current.specifier}`);
    current.names.set(row[1], row[2] as ApiKind);
  });
  return out;
}

/** Whether a kind names a value a module exports at run time. */
export const isValue = (kind: ApiKind): boolean => kind === 'function' || kind === 'class' || kind === 'const';

/**
 * The names a TypeScript module exports, value or type, read from its
 * export statements (following `export *` into relative files). Entry
 * points are plain re-export lists, so reading the statements is enough.
 */
export function sourceExports(file: string): Map<string, 'value' | 'type'> {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out = new Map<string, 'value' | 'type'>();
  for (const m of text.matchAll(/^export\s+(?:declare\s+)?(?:async\s+)?(function|class|const|let|interface|type|enum)\s+([A-Za-z_$][\w$]*)/gm)) {
    out.set(m[2], m[1] === 'interface' || m[1] === 'type' ? 'type' : 'value');
  }
  for (const m of text.matchAll(/^export\s+(type\s+)?\{([^}]*)\}/gm)) {
    for (const item of m[2].split(',').map((s) => s.trim()).filter(Boolean)) {
      const typeOnly = Boolean(m[1]) || item.startsWith('type ');
      const name = item.replace(/^type\s+/, '').split(/\s+as\s+/).at(-1)!;
      out.set(name, typeOnly ? 'type' : 'value');
    }
  }
  for (const m of text.matchAll(/^export\s+\*\s+from\s+'(\.[^']+)'/gm)) {
    const target = resolve(dirname(file), m[1].replace(/\.js$/, '.ts'));
    for (const [name, kind] of sourceExports(target)) out.set(name, kind);
  }
  return out;
}
