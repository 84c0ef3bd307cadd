/**
 * docs/errors.md and host/errors agree: every code the host declares has a
 * section (naming its class and saying what to do), every section is a
 * declared code, and no host source throws or sends an ERR_PAMWASM_ code
 * that is not declared.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as errors from '../../host/errors/index.js';
import { packageRoot } from '../../host/wit/index.js';

const ROOT = packageRoot();
const DOC = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');

/** The `### \`CODE\`` sections of docs/errors.md, with their text. */
function sections(): Map<string, string> {
  const out = new Map<string, string>();
  const parts = DOC.split(/^### /m).slice(1);
  for (const part of parts) {
    const code = /^`([A-Z_]+)`\s*$/m.exec(part.split('\n')[0])?.[1];
    expect(code, `docs/errors.md: a section heading is not a code: ### ${part.split('\n')[0]}`).toBeDefined();
    expect(out.has(code!), `docs/errors.md: ${code} twice`).toBe(false);
    out.set(code!, part);
  }
  return out;
}

/** Every .ts file under host/. */
function hostSources(dir = join(ROOT, 'host')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? hostSources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('docs/errors.md', () => {
  const documented = sections();

  it('has a section for every code host/errors declares, and none other', () => {
    expect([...documented.keys()]).toEqual([...errors.ERROR_CODES]);
  });

  it('names each code\'s class and says what to do', () => {
    const classes = Object.entries(errors).filter(([, v]) => typeof v === 'function' && v !== errors.PamwasmError && (v as typeof errors.PamwasmError).code !== undefined);
    for (const [name, cls] of classes) {
      const text = documented.get((cls as typeof errors.PamwasmError).code!);
      expect(text, `${name} has no section`).toBeDefined();
      expect(text, `the section of ${name}'s code does not name it`).toMatch(new RegExp(`^\`${name}\``, 'm'));
      expect(text, `the section of ${name}'s code does not say what to do`).toMatch(/^What to do: \S/m);
    }
  });

  it('covers every ERR_PAMWASM_ code written in the host\'s sources', () => {
    const used = new Set(hostSources().flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\bERR_PAMWASM_[A-Z_]+\b/g)].map((m) => m[0])));
    expect([...used].filter((c) => !documented.has(c))).toEqual([]);
  });
});
