/**
 * One validator of stack-line settings (host/sandbox/policy/spec.ts) serves
 * `pamwasm check`, `run`, `exec` and the host API: what one refuses, all
 * refuse. `check` exits 2 with file:line; at run time a bad setting fails
 * its line like a malformed line and nothing else (an optional bad line
 * before pam_permit still opens), never a crash or exit 70.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newHandleState } from '../../host/runtime/index.js';
import { parseModuleSpec } from '../../host/sandbox/index.js';
import { createHost } from '../../host/sessions/index.js';
import { parseStackFile, runStack, StackSession } from '../../host/stack/index.js';
import { packageRoot } from '../../host/wit/index.js';

const ROOT = packageRoot();
const FIXTURE = join(ROOT, 'guest-modules', 'hostile', 'bad_settings.stack');
/** The fixture's lines with a bad setting: every module line but the last. */
const BAD_LINES = Array.from({ length: 15 }, (_, i) => i + 4);
const dir = mkdtempSync(join(tmpdir(), 'pamwasm-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[], env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }, bin = join(ROOT, 'bin', 'pamwasm.js')) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at |RangeError|TypeError/);

describe('the settings of a stack line', () => {
  it.each([
    ['memory=5GiB', /above the 4 GiB/],
    ['memory=3', /below one 64 KiB page/],
    ['memory=100KiB', /not a whole number of 64 KiB pages.*128KiB/],
    ['memory=0', /below one 64 KiB page/],
    ['memory=2constructor', /not a size/],
    ['memory=99999999999999999999GiB', /above the 4 GiB/],
    ['timeout=0', /not a time limit above zero/],
    ['timeout=3601s', /longer than the 1 hour/],
    ['timeout=1e400', /not a duration/],
    ['timeout=2h', /not a duration/],
    ['timeout=1s timeout=2s', /given twice/],
    ['fault=success', /would let a faulting module pass/],
    ['fault=ignore', /would let a faulting module pass/],
    ['fault=constructor', /not a PAM code name/],
    ['fault=__proto__', /not a PAM code name/],
    ['sha256=abc', /not 64 hex digits/],
    ['read=etc', /not an absolute directory/],
    ['read=', /needs a value/],
    ['clocks=yes', /takes no value/],
    ['toString', /unknown module option "toString"/],
    ['__proto__=1', /unknown module option "__proto__"/],
  ])('refuses %s with ERR_PAMWASM_BAD_SETTING and says how to fix it', (setting, why) => {
    expect(() => parseModuleSpec(`pam_echo.wasm ${setting}`)).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_BAD_SETTING', message: expect.stringMatching(why) }));
  });

  it('accepts the bounds themselves: one page, 4 GiB, an hour, and read= given twice', () => {
    expect(parseModuleSpec('m.wasm memory=64KiB').memoryBytes).toBe(65536);
    expect(parseModuleSpec('m.wasm memory=4GiB timeout=3600s').memoryBytes).toBe(4 * 1024 ** 3);
    expect(parseModuleSpec('m.wasm timeout=3600s').timeoutMs).toBe(3_600_000);
    expect(parseModuleSpec('m.wasm read=/a read=/b fault=perm_denied').grants.read).toEqual(['/a', '/b']);
  });

  it('fails only its own line in the parsed stack, with file:line and the error\'s code', () => {
    const stack = parseStackFile(FIXTURE, { strictPermissions: false });
    const errors = stack.diagnostics.filter((d) => d.severity === 'error');
    expect(errors.map((d) => [d.line, d.code])).toEqual(BAD_LINES.map((l) => [l, 'ERR_PAMWASM_BAD_SETTING']));
    expect(stack.handlers.map((h) => h.kind)).toEqual([...BAD_LINES.map(() => 'must-fail'), 'module']);
  });
});

describe('one verdict on bad settings everywhere', () => {
  it('pamwasm check exits 2 with file:line on every bad line', () => {
    const r = run(['check', FIXTURE, '--json']);
    expect(r.code).toBe(2);
    const { findings } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { findings: { file: string; line: number; severity: string; code?: string }[] };
    const errors = findings.filter((f) => f.severity === 'error');
    expect(errors.map((f) => [f.file, f.line, f.code])).toEqual(BAD_LINES.map((l) => [FIXTURE, l, 'ERR_PAMWASM_BAD_SETTING']));
    const human = run(['check', FIXTURE]);
    expect(human.code).toBe(2);
    expect(human.stdout).toContain(`${FIXTURE}:4: error: memory=5GiB is above the 4 GiB a module's memory can hold: write at most 4GiB.`);
  });

  it('pamwasm check refuses a memory= below what the module starts with, as run does', async () => {
    const stack = join(dir, 'small.stack');
    writeFileSync(stack, 'session optional [pam_echo.wasm memory=64KiB] hi\nsession required pam_permit.wasm\n');
    const r = run(['check', stack, '--json']);
    expect(r.code).toBe(2);
    const { findings } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { findings: { line: number; severity: string; code?: string }[] };
    expect(findings.filter((f) => f.severity === 'error').map((f) => [f.line, f.code])).toEqual([[1, 'ERR_PAMWASM_MEMORY_LIMIT']]);
    const ran = await runStack({ stackFile: stack, items: { service: 'login', user: 'alice' }, phase: 'open', strictPermissions: false });
    expect(ran.diagnostics.map((d) => d.line)).toEqual([1]);
    expect(ran.open).toEqual({ code: 0, name: 'PAM_SUCCESS' });
  });

  it('pamwasm run fails the bad optional lines and opens with the last one, without a stack trace', () => {
    const r = run(['run', '--stack', FIXTURE, '--service', 'login', '--user', 'alice', '--json']);
    noStackTrace(r.stderr);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out.open).toEqual({ code: 0, name: 'PAM_SUCCESS' });
    expect(JSON.stringify(out.messages)).not.toContain('BAD-LINE-RAN');
    expect(r.stderr).toContain(`${FIXTURE}:5: error: memory=3 is below one 64 KiB page`);
  });

  it('pamwasm exec opens with PAM_SUCCESS, and a required bad line fails closed with a PAM code, never 70', () => {
    const env = { PAM_TYPE: 'open_session', PAM_SERVICE: 'login', PAM_USER: 'alice' };
    const exec = (stack: string) => run(['--stack', stack, '--registry', join(dir, 'registry.db'), '--no-cache'], env, join(ROOT, 'dist', 'pamwasm-exec.mjs'));
    const ok = exec(FIXTURE);
    noStackTrace(ok.stderr);
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toContain('BAD-LINE-RAN');
    expect(ok.stderr).toContain(`${FIXTURE}:10: timeout=99999999s is longer than the 1 hour`);
    const required = join(dir, 'required.stack');
    writeFileSync(required, 'session required [pam_permit.wasm memory=5GiB]\nsession required pam_permit.wasm\n');
    const bad = exec(required);
    noStackTrace(bad.stderr);
    expect(bad.code).not.toBe(0);
    expect(bad.code).toBeLessThan(32); // a PAM code, not a host failure (70)
  });

  it('the host API opens the fixture with PAM_SUCCESS and refuses bad sandbox defaults with ERR_PAMWASM_BAD_SETTING', async () => {
    const r = await runStack({ stackFile: FIXTURE, items: { service: 'login', user: 'alice' }, phase: 'open', strictPermissions: false });
    expect(r.open).toEqual({ code: 0, name: 'PAM_SUCCESS' });
    expect(r.diagnostics.filter((d) => d.code === 'ERR_PAMWASM_BAD_SETTING').map((d) => d.line)).toEqual(BAD_LINES);
    const host = await createHost({ registry: join(dir, 'api.db'), strictPermissions: false });
    try {
      const s = await host.openSession({ stack: FIXTURE, service: 'login', user: 'alice' });
      expect(s.opened).toBe(true);
      await s.close();
    } finally {
      await host.shutdown();
    }
    const stack = parseStackFile(FIXTURE, { strictPermissions: false });
    for (const sandbox of [{ memoryBytes: 5 * 1024 ** 3 }, { memoryBytes: 3 }, { timeoutMs: -1 }, { faultCode: 0 }, { faultCode: 999 }]) {
      await expect(StackSession.create(stack, newHandleState(), { sandbox })).rejects.toMatchObject({ code: 'ERR_PAMWASM_BAD_SETTING' });
    }
  });
});
