/**
 * `pamwasm run` answers a module's prompts: `--answer TEXT` in order,
 * `--interactive` from stdin with the prompt text on stderr. An unanswered
 * prompt is shown, with how to answer it; an echo-off answer is never
 * printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCModule } from '../../host/build/c.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'pamwasm.js');
const dir = mkdtempSync(join(tmpdir(), 'pamwasm-answer-'));
const stack = join(dir, 'ask.stack');
beforeAll(async () => {
  await buildCModule(join(import.meta.dirname, 'fixtures', 'pam_ask'), join(dir, 'pam_ask.wasm'));
  writeFileSync(stack, 'session required pam_ask.wasm\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, 'run', '--stack', stack, '--module-dir', dir, '--service', 'login', '--user', 'alice', '--phase', 'open', ...args], {
    encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000, input: input ?? '',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

describe('pamwasm run and prompts', () => {
  it('answers prompts in order with --answer, and keeps the echo-off answer out of the JSON', () => {
    const r = run(['--answer', 'bob', '--answer', 'hunter2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = lastJson(r.stdout);
    expect(j.open.name).toBe('PAM_SUCCESS');
    expect(j.messages).toEqual([{ style: 'info', text: 'name=bob secret=7 chars' }]);
    expect(j.prompts).toEqual([
      { style: 'echo-on', text: 'Name: ', answered: true, answer: 'bob' },
      { style: 'echo-off', text: 'Secret: ', answered: true },
    ]);
    expect(r.stdout).not.toContain('hunter2');
  });

  it('shows a prompt nobody answered and how to answer it', () => {
    const r = run([]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/prompt "Name: "\s+no answer: give --answer TEXT or --interactive/);
    expect(r.stdout).toMatch(/open-session: PAM_CONV_ERR/);
    const short = run(['--answer', 'bob', '--json']);
    expect(lastJson(short.stdout).prompts[1]).toEqual({ style: 'echo-off', text: 'Secret: ', answered: false });
  });

  it('reads answers from stdin with --interactive, showing each prompt on stderr', () => {
    const r = run(['--interactive'], 'carol\nxyz\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Name: ');
    expect(r.stderr).toContain('Secret: ');
    expect(r.stdout).toContain('name=carol secret=3 chars');
    expect(r.stdout).not.toContain('xyz');
    const ended = run(['--interactive', '--json'], 'carol\n');
    expect(lastJson(ended.stdout).open.name).toBe('PAM_CONV_ERR');
  });

  it('refuses --answer together with --interactive', () => {
    const r = run(['--answer', 'x', '--interactive']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/either --answer or --interactive/);
  });
});
