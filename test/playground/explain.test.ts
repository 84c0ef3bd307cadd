/**
 * `pamwasm explain` and what-ifs: the flow in the terminal, the
 * all-outcomes table held to real runs, and `run --what-if`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeByToken } from '../../host/codes/index.js';
import { runStack } from '../../host/stack/index.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'pamwasm.js');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pamwasm-explain-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stackFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const pamwasm = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

describe('pamwasm explain', () => {
  it('prints each line and where each code goes from it: jumps, done and die out of a substack, a bad jump', () => {
    stackFile('sub', 'session [success=done default=die] pam_permit.wasm\nsession required pam_deny.wasm\n');
    const file = stackFile('flow.stack', [
      'session [success=1 default=ignore] pam_debug.wasm',
      'session requisite pam_deny.wasm',
      'session substack sub',
      'session [success=5 default=ok] [pam_permit.wasm timeout=200ms memory=1MiB]',
      'auth required pam_permit.wasm',
    ].join('\n') + '\n');
    const r = pamwasm('explain', file);
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toContain('flow.stack: 5 session lines (1 lines of other types not shown)');
    expect(out).toMatch(/flow\.stack:1 {2}\[success=1 default=ignore\] {2}pam_debug\.wasm\n {2}jump 1 +success +-> flow\.stack:3\n {2}ignore +other codes +-> flow\.stack:2/);
    expect(out).toMatch(/flow\.stack:2 {2}requisite {2}pam_deny\.wasm\n {2}ok +success new_authtok_reqd +-> flow\.stack:3\n {2}ignore +ignore +-> flow\.stack:3\n {2}die +other codes +-> the end of the stack/);
    // Inside the substack, done and die end the substack only: the walk goes on at line 4.
    expect(out).toMatch(/ {2}sub:1 {2}\[success=done default=die\] {2}pam_permit\.wasm\n {4}done +success +-> flow\.stack:4\n {4}die +other codes +-> flow\.stack:4/);
    expect(out).toMatch(/flow\.stack:4 {2}\[success=5 default=ok\] {2}pam_permit\.wasm\n {2}sandbox: timeout=200ms memory=1024KiB\n/);
    expect(out).toMatch(/jump 5 +success +-> past the end of its level: the stack fails/);
    expect(out).toContain('All outcomes over success, ignore, session_err: 243 of 243 combinations');
  });

  it('gives, for every combination, the codes a real run with those what-ifs gives', async () => {
    stackFile('inner', 'session sufficient pam_debug.wasm\nsession [default=reset] pam_deny.wasm\n');
    const file = stackFile('table.stack', 'session [success=1 new_authtok_reqd=die default=ignore] pam_debug.wasm\nsession substack inner\nsession required pam_permit.wasm\n');
    const r = pamwasm('explain', file, '--codes', 'success,PAM_NEW_AUTHTOK_REQD,session_err', '--json');
    expect(r.status, r.stderr).toBe(0);
    const { outcomes } = JSON.parse(r.stdout);
    expect(outcomes.rows).toHaveLength(81);
    expect(outcomes.capped).toBe(false);
    for (const row of outcomes.rows as { results: string[]; open: string; close: string }[]) {
      const whatIf = new Map(row.results.map((code, k) => {
        const n = codeByToken(code)!.number;
        return [outcomes.lines[k].index as number, { open: n, close: n }];
      }));
      const run = await runStack({ stackFile: file, items: { service: 'login', user: 'alice' }, whatIf, strictPermissions: false });
      expect({ results: row.results, open: run.open!.name, close: run.close!.name }).toEqual(row);
      expect(run.trace.filter((t) => t.module !== '<none>').every((t) => t.whatIf)).toBe(true);
    }
  });

  it('caps the table and says so', () => {
    const file = stackFile('nine.stack', 'session optional pam_permit.wasm\n'.repeat(9));
    const r = pamwasm('explain', file);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('All outcomes over success, ignore, session_err: 4096 of 19683 combinations (capped at 4096)');
    const bad = pamwasm('explain', file, '--codes', 'success,nonsense');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('"nonsense" is not a PAM code');
  });
});

describe('what-ifs', () => {
  it('make a line answer without running its module, at the hooks chosen', () => {
    const file = stackFile('echo.stack', 'session required pam_echo.wasm [hello %u]\nsession optional pam_debug.wasm open_session=success close_session=success\n');
    const run = (whatIf: string) => {
      const r = pamwasm('run', '--stack', file, '--service', 'login', '--user', 'alice', '--what-if', whatIf, '--json');
      expect(r.status, r.stderr).toBe(1);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      return {
        result: [out.open.name, out.close.name],
        messages: out.messages.map((m: { text: string }) => m.text),
        trace: out.trace.map((t: { hook: string; name: string; whatIf?: boolean }) => [t.hook, t.name, t.whatIf ?? false]),
      };
    };
    // At open, pam_echo does not run (no hello); at close it runs (its own PAM_IGNORE), on the chain frozen at open.
    expect(run('1=session_err,-')).toEqual({
      result: ['PAM_SESSION_ERR', 'PAM_PERM_DENIED'],
      messages: ['open_session=success', 'close_session=success'],
      trace: [['open', 'PAM_SESSION_ERR', true], ['open', 'PAM_SUCCESS', false], ['close', 'PAM_IGNORE', false], ['close', 'PAM_SUCCESS', false]],
    });
    expect(run('1=-,session_err')).toEqual({
      result: ['PAM_SUCCESS', 'PAM_SESSION_ERR'],
      messages: ['hello alice', 'open_session=success', 'close_session=success'],
      trace: [['open', 'PAM_SUCCESS', false], ['open', 'PAM_SUCCESS', false], ['close', 'PAM_SESSION_ERR', true], ['close', 'PAM_SUCCESS', false]],
    });
  });

  it('walk a native line that pamwasm cannot load, and name a line that is not there', async () => {
    const file = stackFile('native.stack', 'session required pam_unix.so\nsession optional pam_systemd.so\n');
    const whatIf = new Map([[0, { open: 0, close: 0 }], [1, { open: codeByToken('session_err')!.number, close: 0 }]]);
    const run = await runStack({ stackFile: file, items: { service: 'sshd', user: 'alice' }, whatIf, strictPermissions: false });
    expect(run.diagnostics).toEqual([]);
    expect([run.open!.name, run.close!.name]).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
    const without = await runStack({ stackFile: file, items: { service: 'sshd', user: 'alice' }, strictPermissions: false });
    expect(without.open!.name).toBe('PAM_MODULE_UNKNOWN');
    const r = pamwasm('run', '--stack', file, '--service', 'sshd', '--user', 'alice', '--what-if', '7=success');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file} has no session module line 7`);
  });
});
