/**
 * The host's and the C SDK's copies of the world's names are generated from
 * wit/ (host/build/wit-bindings.ts): the committed files are what wit/
 * generates, and a change to a copy of wit/ shows in what it generates.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cBindings, readWitNames, staleBindings, typescriptBindings, witBindings } from '../../host/build/wit-bindings.js';
import { codeByStatus, PAM_CODES, WIT_STATUSES } from '../../host/codes/index.js';
import { WIT_ITEMS, WIT_PRIORITIES } from '../../host/runtime/index.js';
import { packageRoot, WIT_VERSION } from '../../host/wit/index.js';

const ROOT = packageRoot();
const scratch = mkdtempSync(join(tmpdir(), 'pamwasm-wit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the package's generated files and wit/ in a temp dir, with `edit` applied to wit/types.wit. */
function copyWith(edit: (types: string) => string): string {
  const root = mkdtempSync(join(scratch, 'pkg-'));
  cpSync(join(ROOT, 'wit'), join(root, 'wit'), { recursive: true });
  for (const file of witBindings().keys()) cpSync(join(ROOT, file), join(root, file));
  const types = join(root, 'wit', 'types.wit');
  writeFileSync(types, edit(readFileSync(types, 'utf8')));
  return root;
}

describe('the bindings generated from wit/', () => {
  it('are committed as wit/ generates them', () => {
    expect(staleBindings(ROOT), 'run `npm run wit-bindings` and commit the result').toEqual([]);
  });

  it('are what the host uses: the status list, items, priorities and version', () => {
    const names = readWitNames(join(ROOT, 'wit'));
    const cases = (name: string) => names.types.find((t) => t.name === name)?.cases;
    expect(WIT_STATUSES).toEqual(cases('status'));
    expect(WIT_ITEMS).toEqual(cases('item'));
    expect(WIT_PRIORITIES).toEqual(cases('priority'));
    expect(WIT_VERSION).toBe(names.version);
    expect(readFileSync(join(ROOT, 'wit', 'world.wit'), 'utf8')).toContain(`package ${names.package}@${names.version};`);
    // The status cases are Linux-PAM's codes, in number order.
    expect(codeByStatus('session-err').number).toBe(14);
    expect(PAM_CODES.map((c) => c.status)).toEqual(cases('status'));
  });

  it('go stale when wit/ changes a case, and the check says which files', () => {
    expect(staleBindings(copyWith((t) => t))).toEqual([]);
    const renamed = copyWith((t) => t.replace(/\buser-prompt,/, 'prompt-text,'));
    expect(staleBindings(renamed).sort()).toEqual([...witBindings().keys()].sort());
    const ts = typescriptBindings(readWitNames(join(renamed, 'wit')));
    expect(ts).toContain("'prompt-text'");
    expect(ts).not.toContain("'user-prompt'");
    const c = cBindings(readWitNames(join(renamed, 'wit')));
    expect(c).toContain('WIT_ITEM_PROMPT_TEXT = 5,');
  });

  it('give C a compile-time check that each status case is its PAM code', () => {
    const compile = (root: string) => spawnSync('clang', ['--target=wasm32-wasi', '-fsyntax-only', '-I', join(ROOT, 'guest-modules', 'sdk', 'c', 'include'), '-x', 'c', join(root, 'guest-modules', 'sdk', 'c', 'src', 'wit.h')], { encoding: 'utf8' });
    const good = compile(ROOT);
    expect(good.status, good.stderr).toBe(0);
    // Two cases swapped in the WIT: the header generated from it does not compile.
    const swapped = copyWith((t) => t.replace('open-err,', 'OPEN,').replace('symbol-err,', 'open-err,').replace('OPEN,', 'symbol-err,'));
    for (const [file, text] of witBindings(join(swapped, 'wit'))) writeFileSync(join(swapped, file), text);
    const bad = compile(swapped);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('status symbol-err is PAM_SYMBOL_ERR');
  });

  it('fail the build\'s check on a stale copy, with the command that fixes it', () => {
    const stale = copyWith((t) => t.replace(/\bxdisplay,/, 'xdisplay,\n        xauth-type,'));
    const cli = (root: string) => spawnSync(process.execPath, [join(ROOT, 'dist', 'host', 'build', 'wit-bindings.js'), '--check', '--root', root], { encoding: 'utf8' });
    const r = cli(stale);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/host\/wit\/bindings\.ts and guest-modules\/sdk\/c\/src\/wit\.h are not what wit\/ generates: run `npm run wit-bindings`/);
    expect(readFileSync(join(stale, 'host', 'wit', 'bindings.ts'), 'utf8')).not.toContain('xauth-type');
    const fresh = cli(ROOT);
    expect(fresh.status, fresh.stderr).toBe(0);
  });
});
