/**
 * The module test harness (pamwasm/testing) as a module author uses it: one
 * module or a stack, run through the real dispatcher and sandbox, with
 * items, env, flags and scripted answers; the result carries the codes,
 * messages, prompts, env, module data, log lines and trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCModule } from '../../host/build/c.js';
import { BUNDLED_MODULE_DIR } from '../../host/stack/index.js';
import { runModule } from '../../host/testing/index.js';

const bundled = (name: string) => join(BUNDLED_MODULE_DIR, name);
const dir = mkdtempSync(join(tmpdir(), 'pamwasm-harness-'));
const ask = join(dir, 'pam_ask.wasm');
beforeAll(async () => {
  await buildCModule(join(import.meta.dirname, '..', 'cli', 'fixtures', 'pam_ask'), ask);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runModule', () => {
  it('runs one module with its arguments and items, and returns both hooks\' codes and its messages', async () => {
    const r = await runModule({ module: bundled('pam_echo.wasm'), args: ['Hello %u on %t'], items: { user: 'alice', tty: 'pts/7' } });
    expect(r.open).toEqual({ code: 0, name: 'PAM_SUCCESS' });
    // A stack whose only line ignores ends as libpam ends it: no positive impression.
    expect(r.close?.name).toBe('PAM_PERM_DENIED');
    expect(r.ok).toBe(false);
    expect(r.messages).toEqual([{ style: 'info', text: 'Hello alice on pts/7' }]);
    expect(r.trace.map((t) => [t.hook, t.name])).toEqual([['open', 'PAM_SUCCESS'], ['close', 'PAM_IGNORE']]);
  });

  it('passes an argument with spaces as one argument, and PAM_SILENT when asked', async () => {
    const loud = await runModule({ module: bundled('pam_echo.wasm'), args: ['two words'], phase: 'open' });
    expect(loud.messages).toEqual([{ style: 'info', text: 'two words' }]);
    expect(loud.close).toBeUndefined();
    const silent = await runModule({ module: bundled('pam_echo.wasm'), args: ['two words'], phase: 'open', silent: true });
    expect(silent.messages).toEqual([]);
  });

  it('runs a module from a folder whose path holds spaces, which a stack line cannot name', async () => {
    const spaced = join(dir, 'My Modules');
    mkdirSync(spaced);
    copyFileSync(bundled('pam_echo.wasm'), join(spaced, 'pam_echo.wasm'));
    const r = await runModule({ module: join(spaced, 'pam_echo.wasm'), args: ['hi %u'], items: { user: 'alice' }, phase: 'open' });
    expect([r.open?.name, r.messages]).toEqual(['PAM_SUCCESS', [{ style: 'info', text: 'hi alice' }]]);
    copyFileSync(bundled('pam_echo.wasm'), join(spaced, 'pam echo.wasm'));
    await expect(runModule({ module: join(spaced, 'pam echo.wasm') })).rejects.toMatchObject({ code: 'ERR_PAMWASM_USAGE' });
  });

  it('starts from the given PAM environment and returns the one the modules left', async () => {
    const r = await runModule({ module: bundled('pam_setenv.wasm'), args: ['GREETING=hi-%u'], env: { KEPT: 'yes' }, items: { user: 'bob' } });
    expect(r.open?.name).toBe('PAM_SUCCESS');
    expect(r.env).toEqual({ KEPT: 'yes', GREETING: 'hi-bob' });
  });

  it('returns each line\'s module data and the modules\' syslog lines', async () => {
    const r = await runModule({ module: bundled('pam_stamp.wasm'), args: ['token=t1'], items: { user: 'carol', tty: 'pts/1' }, phase: 'open' });
    expect(r.data).toHaveLength(1);
    expect(Object.values(r.data[0]).map((v) => Buffer.from(v).toString())).toContain('token=t1 user=carol tty=pts/1');
    const warn = await runModule({ module: bundled('pam_warn.wasm'), items: { service: 'sshd', user: 'dave' }, phase: 'open' });
    expect(warn.log).toHaveLength(1);
    expect(warn.log[0].priority).toBe('notice');
    expect(warn.log[0].module).toMatch(/pam_warn\.wasm$/);
    expect(warn.log[0].message).toContain('service=[sshd]');
  });

  it('runs a stack written inline, with libpam\'s control semantics in the trace', async () => {
    const r = await runModule({
      stackText: [
        'session [success=1 default=ignore] pam_debug.wasm open_session=success',
        'session requisite pam_deny.wasm',
        'session required pam_permit.wasm',
      ].join('\n'),
      phase: 'open',
    });
    expect(r.open?.name).toBe('PAM_SUCCESS');
    expect(r.trace.map((t) => [t.line, t.action])).toEqual([[1, 'jump 1'], [3, 'ok']]);
    expect(r.messages).toEqual([{ style: 'info', text: 'open_session=success' }]);
  });

  it('answers prompts from the script in order and records each one; a prompt past the script gets conv-err', async () => {
    const r = await runModule({ module: ask, answers: ['erin', 'hunter2'], phase: 'open' });
    expect(r.open?.name).toBe('PAM_SUCCESS');
    expect(r.prompts).toEqual([
      { style: 'echo-on', text: 'Name: ', answer: 'erin' },
      { style: 'echo-off', text: 'Secret: ', answer: 'hunter2' },
    ]);
    expect(r.messages).toEqual([{ style: 'info', text: 'name=erin secret=7 chars' }]);
    const short = await runModule({ module: ask, answers: ['erin'], phase: 'open' });
    expect(short.open?.name).toBe('PAM_CONV_ERR');
    expect(short.prompts.at(-1)).toEqual({ style: 'echo-off', text: 'Secret: ' });
    const byFunction = await runModule({ module: ask, answers: (style, text) => `${style}:${text.trim()}`, phase: 'open' });
    expect(byFunction.messages[0].text).toBe('name=echo-on:Name: secret=16 chars');
  });

  it('reports a module that cannot be loaded as a failing line, with the reason in the log', async () => {
    const r = await runModule({ module: join(dir, 'missing.wasm'), phase: 'open' });
    expect(r.open?.name).not.toBe('PAM_SUCCESS');
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => d.message).join(' ')).toMatch(/missing\.wasm/);
  });

  it('wants exactly one of module, stack or stackText', async () => {
    await expect(runModule({})).rejects.toMatchObject({ code: 'ERR_PAMWASM_USAGE' });
    await expect(runModule({ module: ask, stackText: 'session required pam_permit.wasm' })).rejects.toMatchObject({ code: 'ERR_PAMWASM_USAGE' });
  });
});
