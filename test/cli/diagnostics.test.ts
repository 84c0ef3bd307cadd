/**
 * The CLI's errors say what, where and how to fix it, as a user meets them:
 * help for one command, "did you mean", JSON errors, refused builds that
 * leave nothing behind, grants listed instead of refused, file-level check
 * errors, native modules in a WASM stack, mistyped registry paths and
 * system services.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCModule } from '../../host/build/c.js';
import { BUNDLED_MODULE_DIR } from '../../host/stack/index.js';
import { oneSentence, pamwasm, scratch } from '../support/cli.js';

const { dir, file, remove } = scratch('pamwasm-diag-');
afterAll(remove);
const HOOKS = `#include <security/pam_modules.h>
int pam_sm_open_session(pam_handle_t *h, int f, int c, const char **v) { (void)h; (void)f; (void)c; (void)v; return PAM_SUCCESS; }
int pam_sm_close_session(pam_handle_t *h, int f, int c, const char **v) { (void)h; (void)f; (void)c; (void)v; return PAM_SUCCESS; }
`;
/** A C module folder named `name` with `source` as its only file, and `extra` files. */
function cModule(name: string, source: string, extra: Record<string, string> = {}): string {
  const folder = join(dir, name);
  mkdirSync(folder);
  writeFileSync(join(folder, `${name}.c`), source);
  for (const [f, text] of Object.entries(extra)) writeFileSync(join(folder, f), text);
  return folder;
}

describe('help and mistyped words', () => {
  it('help run prints run\'s usage, not the general one', () => {
    const r = pamwasm('help', 'run');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: pamwasm run --stack FILE/);
    expect(r.stdout).not.toMatch(/Commands:/);
  });

  it('suggests the command a mistyped one was meant to be, and none for an unrelated word', () => {
    const r = pamwasm('chekc', 'x.stack');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "chekc" \(did you mean "check"\?\)/);
    oneSentence(r.stderr);
    expect(pamwasm('frobnicate').stderr).not.toMatch(/did you mean/);
  });

  it('suggests the option a mistyped one was meant to be', () => {
    const r = pamwasm('inspect', '--jsno', join(BUNDLED_MODULE_DIR, 'pam_echo.wasm'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option --jsno \(did you mean --json\?\)/);
    oneSentence(r.stderr);
  });

  it('prints an error as JSON on stdout when --json was asked for', () => {
    const r = pamwasm('inspect', join(dir, 'missing.wasm'), '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'ERR_PAMWASM_MODULE_NOT_FOUND', message: `module ${join(dir, 'missing.wasm')} does not exist.` } });
  });
});

describe('pamwasm build', () => {
  it('writes into a folder given as --out, without a stack trace', () => {
    const out = join(dir, 'out-folder');
    mkdirSync(out);
    const r = pamwasm('build', cModule('pam_ok', HOOKS), '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(['pam_ok.wasm']);
    expect(r.stderr).not.toMatch(/EISDIR|\n\s+at /);
  });

  it('refuses a misspelled hook by name and leaves no file', () => {
    const out = join(dir, 'typo.wasm');
    const r = pamwasm('build', cModule('pam_typo', HOOKS.replace('pam_sm_open_session', 'pam_sm_open_sesion')), '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pam_sm_open_session is not defined \(pam_sm_open_sesion is defined: is it misspelled\?\)/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('builds a module granted WASI and says which grants its stack line needs, as inspect does', () => {
    const out = join(dir, 'clock.wasm');
    const source = `#include <time.h>\n${HOOKS.replace('return PAM_SUCCESS; }\nint pam_sm_close', 'return time(0) > 0 ? PAM_SUCCESS : PAM_SESSION_ERR; }\nint pam_sm_close')}`;
    const r = pamwasm('build', cModule('pam_clock', source, { 'build.json': '{"wasi": true}' }), '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/grants it needs on its stack line: clocks$/m);
    expect(r.stderr).not.toMatch(/<bytes>|\.tmp/);
    const inspected = pamwasm('inspect', out);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toMatch(/grants +needs clocks on its stack line/);
    expect(JSON.parse(pamwasm('inspect', out, '--json').stdout).grants).toEqual(['clocks']);
  });
});

describe('pamwasm check', () => {
  it('says a file-level error with the file alone, not file:0', () => {
    const missing = join(dir, 'nope.stack');
    const r = pamwasm('check', missing);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`${missing}: error: stack file ${missing} does not exist.`);
    expect(r.stdout).not.toMatch(/:0:/);
  });

  it('keeps each finding on one line, even when what it quotes has a newline', () => {
    const odd = join(dir, 'two\nlines.stack');
    const r = pamwasm('check', odd);
    expect(r.stdout.trim().split('\n')).toHaveLength(2); // the finding and the summary
    expect(r.stdout).toMatch(/two lines\.stack: error: stack file .*two lines\.stack does not exist\./);
  });

  it('names a native .so in a WASM stack as such, with where it belongs', () => {
    const r = pamwasm('check', file('native.stack', 'session required pam_permit.so\n'));
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/native\.stack:1: error: module .*pam_permit\.so is a native PAM module \(\.so\), which a WASM stack cannot run: put its line in the system stack .* such as pam_permit\.wasm\./);
  });

  it('names the hook a component lacks, which would fail its line at every login', async () => {
    const lacking = join(dir, 'lacking.wasm');
    await buildCModule(cModule('pam_lacking', HOOKS.replace(/int pam_sm_close_session[^\n]*\n/, '')), lacking, { allowHookProblems: true });
    const r = pamwasm('check', file('lacking.stack', `session required ${lacking}\n`));
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/lacking\.stack:1: error: .*lacking\.wasm: pam_sm_close_session is not defined, so this line would return PAM_MODULE_UNKNOWN/);
    expect(pamwasm('inspect', lacking).stdout).toMatch(/problem +pam_sm_close_session is not defined/);
  });
});

describe('paths and names given on the command line', () => {
  it('refuses a registry in a folder that does not exist, in one sentence, and makes no folder', () => {
    const registry = join(dir, 'nonexistent', 'dir', 'reg.db');
    const r = pamwasm('sessions', '--registry', registry);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the registry folder .*nonexistent\/dir does not exist: fix the registry path, or create the folder/);
    oneSentence(r.stderr);
    expect(existsSync(join(dir, 'nonexistent'))).toBe(false);
  });

  it('refuses a system service with no pam.d file instead of a bare PAM_ABORT', () => {
    const confdir = join(dir, 'pam.d');
    mkdirSync(confdir);
    const stack = file('one.stack', 'session required pam_permit.wasm\n');
    const r = pamwasm('run', '--stack', stack, '--service', 's', '--user', 'u', '--system-service', 'nosuch', '--system-confdir', confdir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--system-service nosuch: there is no PAM service file .*pam\.d\/nosuch; name a file of/);
    expect(r.stdout).not.toMatch(/PAM_ABORT/);
    oneSentence(r.stderr);
  });
});
