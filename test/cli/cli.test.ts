/**
 * The CLI as users call it: a child process per command, exit status, stdout
 * and stderr, including the bad-input paths (one sentence on stderr, exit 2,
 * no stack trace).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLED_MODULE_DIR } from '../../host/stack/index.js';
import { oneSentence, pamwasm, scratch } from '../support/cli.js';

const { dir, file, remove } = scratch('pamwasm-cli-');
afterAll(remove);

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

describe('pamwasm', () => {
  it('lists its commands with --help and refuses an unknown command', () => {
    const help = pamwasm('--help');
    expect(help.code).toBe(0);
    for (const c of ['demo', 'run', 'check', 'inspect', 'build']) expect(help.stdout).toContain(`  ${c}`);
    const bad = pamwasm('frobnicate');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown command "frobnicate"; run/);
    oneSentence(bad.stderr);
  });

  it('gives each command a --help', () => {
    for (const c of ['demo', 'run', 'check', 'inspect', 'build']) {
      const r = pamwasm(c, '--help');
      expect(r.code, c).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: pamwasm ${c}`));
    }
  });
});

describe('pamwasm demo', () => {
  it('opens and closes a real session through libpam with bundled modules inside it', () => {
    const r = pamwasm('demo', '--json', '--user', 'alice');
    expect(r.code, r.stderr).toBe(0);
    const out = lastJson(r.stdout);
    expect(out.open).toMatchObject({ name: 'PAM_SUCCESS', system: { name: 'PAM_SUCCESS' }, wasm: { name: 'PAM_SUCCESS' } });
    expect(out.close).toMatchObject({ name: 'PAM_SUCCESS', system: { name: 'PAM_SUCCESS' }, wasm: { name: 'PAM_SUCCESS' } });
    // The system stack's pam_env and pam_exec, and the WASM modules, on one handle.
    expect(out.env).toEqual(expect.arrayContaining(['DEMO_GREETING=hello from pam_env', 'DEMO_SHELL_GREETING=hi-alice']));
    expect(out.messages.map((m: { text: string }) => m.text)).toEqual(expect.arrayContaining([
      'pam_exec: open_session for alice on pts/demo', 'Welcome alice: service pamwasm-demo on pts/demo', 'pam_exec: close_session for alice on pts/demo',
    ]));
    expect(out.registry).toEqual([expect.objectContaining({ state: 'closed', closedBy: 'api' })]);
  }, 120_000);

  it('prints the trace readably without --json', () => {
    const r = pamwasm('demo', '--user', 'alice');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/system stack \(libpam: pam_env, pam_exec\): PAM_SUCCESS/);
    expect(r.stdout).toMatch(/open 5\s+\[success=1 default=ignore\]\s+pam_debug\.wasm\s+PAM_SUCCESS\s+jump 1/);
    expect(r.stdout).toMatch(/DEMO_SHELL_GREETING=hi-alice/);
  }, 120_000);
});

describe('pamwasm run', () => {
  const stack = file('ok.stack', [
    'session required pam_permit.wasm',
    'session optional pam_echo.wasm [hello %u on %t]',
    'session required pam_debug.wasm open_session=success close_session=success',
  ].join('\n') + '\n');

  it('prints one JSON object as the last line with --json', () => {
    const r = pamwasm('run', '--stack', stack, '--service', 'login', '--user', 'alice', '--tty', 'pts/1', '--json');
    expect(r.code).toBe(0);
    const out = lastJson(r.stdout);
    expect(out.open).toEqual({ code: 0, name: 'PAM_SUCCESS' });
    expect(out.close).toEqual({ code: 0, name: 'PAM_SUCCESS' });
    expect(out.messages).toEqual([
      { style: 'info', text: 'hello alice on pts/1' },
      { style: 'info', text: 'open_session=success' },
      { style: 'info', text: 'close_session=success' },
    ]);
    expect(out.env).toEqual({});
    expect(out.trace.map((t: { hook: string; line: number }) => `${t.hook}:${t.line}`)).toEqual(['open:1', 'open:2', 'open:3', 'close:1', 'close:2', 'close:3']);
  });

  it('prints a readable trace without --json, and exits 1 on a PAM failure', () => {
    const failing = file('fail.stack', 'session required pam_deny.wasm\n');
    const r = pamwasm('run', '--stack', failing, '--service', 'login', '--user', 'alice', '--phase', 'open');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/open\s+fail\.stack:1\s+required\s+pam_deny\.wasm\s+PAM_SESSION_ERR\s+bad/);
    expect(r.stdout).toMatch(/open-session: PAM_SESSION_ERR \(14\)/);
    expect(r.stdout).not.toMatch(/close-session/);
  });

  it('says what is missing: an option, or the stack file', () => {
    const noStack = pamwasm('run', '--service', 'login', '--user', 'alice');
    expect(noStack.code).toBe(2);
    expect(noStack.stderr).toMatch(/run needs --stack/);
    oneSentence(noStack.stderr);
    const missing = pamwasm('run', '--stack', join(dir, 'nope.stack'), '--service', 'login', '--user', 'alice');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/stack file .*nope\.stack does not exist/);
    oneSentence(missing.stderr);
    const badOption = pamwasm('run', '--stak', stack);
    expect(badOption.code).toBe(2);
    oneSentence(badOption.stderr);
  });

  it('reports a syntax error as file:line and dispatches the line as libpam would', () => {
    const bad = file('syntax.stack', 'session required pam_permit.wasm\nsession [success=maybe] pam_permit.wasm\n');
    const r = pamwasm('run', '--stack', bad, '--service', 'login', '--user', 'alice', '--json');
    expect(r.stderr).toMatch(new RegExp(`${bad}:2: error: bad control "success=maybe"`));
    expect(r.code).toBe(1);
    expect(lastJson(r.stdout).open).toEqual({ code: 3 + 3, name: 'PAM_PERM_DENIED' });
    expect(lastJson(r.stdout).trace[1]).toMatchObject({ line: 2, action: 'bad' });
  });

  it('reports an unknown module as file:line and fails its line with PAM_MODULE_UNKNOWN', () => {
    const unknown = file('unknown.stack', 'session required pam_nothere.wasm\n');
    const r = pamwasm('run', '--stack', unknown, '--service', 'login', '--user', 'alice', '--json');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${unknown}:1: error: module .*pam_nothere\\.wasm does not exist`));
    expect(lastJson(r.stdout).open).toEqual({ code: 28, name: 'PAM_MODULE_UNKNOWN' });
  });
});

describe('pamwasm check', () => {
  it('passes a good stack with pin warnings that print the hash to pin', () => {
    const r = pamwasm('check', file('good.stack', 'session required pam_permit.wasm\n'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/good\.stack:1: warning: pam_permit\.wasm is not pinned: write \[pam_permit\.wasm sha256=[0-9a-f]{64}\]/);
  });

  it('fails with file:line for syntax errors, unknown and malformed modules, and bad pins', () => {
    const junk = file('junk.wasm', 'not wasm at all');
    const stack = file('bad.stack', [
      'session required pam_permit.wasm',
      'sesion required pam_permit.wasm',
      'session required pam_nothere.wasm',
      `session required ${junk}`,
      `session required [pam_permit.wasm sha256=${'0'.repeat(64)}]`,
      'session required [pam_permit.wasm speed=fast]',
    ].join('\n') + '\n');
    const r = pamwasm('check', stack);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/bad\.stack:2: error: illegal module type "sesion"/);
    expect(r.stdout).toMatch(/bad\.stack:3: error: module .*pam_nothere\.wasm does not exist/);
    expect(r.stdout).toMatch(/bad\.stack:4: error: .*junk\.wasm is not a WebAssembly binary/);
    expect(r.stdout).toMatch(/bad\.stack:5: error: .*pins sha256=0{64}/);
    expect(r.stdout).toMatch(/bad\.stack:6: error: unknown module option "speed"/);
  });
});

describe('pamwasm inspect', () => {
  it('shows world, exports, imports, size and sha256', () => {
    const r = pamwasm('inspect', join(BUNDLED_MODULE_DIR, 'pam_echo.wasm'), '--json');
    expect(r.code).toBe(0);
    const info = lastJson(r.stdout);
    expect(info.world).toBe('pamwasm:session/session-module@0.1.0');
    expect(info.exports.sort()).toEqual(['close-session', 'open-session']);
    expect(info.imports.every((i: string) => i.startsWith('pamwasm:session/'))).toBe(true);
    expect(info.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(info.size).toBe(readFileSync(join(BUNDLED_MODULE_DIR, 'pam_echo.wasm')).length);
    expect(info.grants).toEqual([]);
  });

  it('refuses malformed bytes and a core module with one sentence and exit 2', () => {
    const junk = pamwasm('inspect', file('junk2.wasm', 'MZ\x90\x00 definitely not wasm'));
    expect(junk.code).toBe(2);
    expect(junk.stderr).toMatch(/is not a WebAssembly binary/);
    oneSentence(junk.stderr);
    const core = join(dir, 'core.wasm');
    writeFileSync(core, Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    const r = pamwasm('inspect', core);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/core WebAssembly module, not a component/);
    const missing = pamwasm('inspect', join(dir, 'absent.wasm'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/absent\.wasm does not exist/);
  });
});

describe('pamwasm build', () => {
  it('builds a C module folder into the same bytes as the bundled build', () => {
    const out = join(dir, 'permit.wasm');
    // Same folder name, another place: the build must not depend on where it runs.
    const src = join(mkdtempSync(join(dir, 'src-')), 'pam_permit');
    mkdirSync(src);
    copyFileSync(join(BUNDLED_MODULE_DIR, '..', 'pam_permit', 'pam_permit.c'), join(src, 'pam_permit.c'));
    const r = pamwasm('build', src, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/building .* \(C\)/);
    expect(r.stdout).toMatch(/sha256=[0-9a-f]{64}/);
    const bundled = readFileSync(join(BUNDLED_MODULE_DIR, 'pam_permit.wasm'));
    expect(readFileSync(out).equals(bundled), `${r.stdout} differs from the bundled build`).toBe(true);
  });

  it('says what is wrong with a folder it cannot build', () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    const r = pamwasm('build', empty);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/holds neither \*\.c files nor an index\.ts/);
    oneSentence(r.stderr);
  });
});
