/**
 * `pamwasm new NAME --lang c|ts`: the folder it writes builds, runs with
 * its stack and passes its own test (node:test through pamwasm/testing) at
 * once; a bad name, a missing language or an existing folder is refused in
 * one sentence, writing nothing. `pamwasm --version` prints the package's.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'pamwasm.js');
// An app folder that has the package installed (a link to this checkout, as `npm link` makes).
const app = mkdtempSync(join(tmpdir(), 'pamwasm-new-'));
mkdirSync(join(app, 'node_modules'));
symlinkSync(ROOT, join(app, 'node_modules', 'pamwasm'));
afterAll(() => rmSync(app, { recursive: true, force: true }));

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: app, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const pamwasm = (...args: string[]) => run(process.execPath, [BIN, ...args]);
const oneSentence = (stderr: string) => {
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr.trim().split('\n')).toHaveLength(1);
};

describe('pamwasm new', () => {
  it('writes a C module with both hooks that builds, runs from its stack and passes its own test', () => {
    const made = pamwasm('new', 'pam_hi', '--lang', 'c');
    expect(made.code, made.stderr).toBe(0);
    expect(readdirSync(join(app, 'pam_hi')).sort()).toEqual(['README.md', 'pam_hi.c', 'pam_hi.stack', 'pam_hi.test.mjs']);
    const source = readFileSync(join(app, 'pam_hi', 'pam_hi.c'), 'utf8');
    expect(source).toContain('pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)');
    expect(source).toContain('pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)');

    const built = pamwasm('build', 'pam_hi');
    expect(built.code, built.stderr).toBe(0);
    expect(existsSync(join(app, 'pam_hi.wasm'))).toBe(true);

    const ran = pamwasm('run', '--stack', 'pam_hi/pam_hi.stack', '--module-dir', '.', '--service', 'login', '--user', 'alice', '--json');
    expect(ran.code, ran.stderr).toBe(0);
    const result = JSON.parse(ran.stdout.trim().split('\n').at(-1)!);
    expect(result.open.name).toBe('PAM_SUCCESS');
    expect(result.close.name).toBe('PAM_SUCCESS');
    expect(result.messages).toEqual([{ style: 'info', text: 'hello, alice' }]);
    expect(result.env).toEqual({ PAM_HI_OPENED: '1' });

    const tested = run(process.execPath, ['--test', join(app, 'pam_hi', 'pam_hi.test.mjs')]);
    expect(tested.code, tested.stdout + tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/# pass 2/);
  });

  it('writes a TS module whose tsconfig sees the SDK through pamwasm/sdk', () => {
    const made = pamwasm('new', 'tshi', '--lang', 'ts');
    expect(made.code, made.stderr).toBe(0);
    expect(readdirSync(join(app, 'tshi')).sort()).toEqual(['README.md', 'index.ts', 'tsconfig.json', 'tshi.stack', 'tshi.test.mjs']);
    expect(readFileSync(join(app, 'tshi', 'index.ts'), 'utf8')).toMatch(/from 'pamwasm\/sdk'/);
    // Type-checks against the package's SDK as the app resolves it (node_modules/pamwasm).
    const tsc = run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(app, 'tshi')]);
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);
    // A wrong status is a type error there.
    const index = join(app, 'tshi', 'index.ts');
    writeFileSync(index, readFileSync(index, 'utf8').replace('return STATUS.SUCCESS;', "return 'succes';"));
    const bad = run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(app, 'tshi')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/succes/);
  });

  it('refuses an existing folder, a bad name and a missing or unknown language, writing nothing', () => {
    mkdirSync(join(app, 'taken'));
    writeFileSync(join(app, 'taken', 'keep.txt'), 'mine');
    const taken = pamwasm('new', 'taken', '--lang', 'c');
    expect(taken.code).toBe(2);
    expect(taken.stderr).toMatch(/already exists/);
    oneSentence(taken.stderr);
    expect(readdirSync(join(app, 'taken'))).toEqual(['keep.txt']);

    for (const name of ['Hello', '1mod', 'my-mod', '../up', 'a'.repeat(65)]) {
      const bad = pamwasm('new', name, '--lang', 'c');
      expect(bad.code, name).toBe(2);
      expect(bad.stderr).toMatch(/is not a module name/);
      oneSentence(bad.stderr);
    }
    const noLang = pamwasm('new', 'nolang');
    expect(noLang.stderr).toMatch(/needs --lang c or --lang ts/);
    const rust = pamwasm('new', 'rusty', '--lang', 'rust');
    expect(rust.stderr).toMatch(/--lang must be c or ts/);
    expect(existsSync(join(app, 'nolang')) || existsSync(join(app, 'rusty'))).toBe(false);
  });

  it('prints the package version with --version', () => {
    const v = pamwasm('--version');
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });
});
