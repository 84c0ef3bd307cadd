/**
 * A TS module is type-checked when it is built, against the SDK's hook type:
 * a wrong status string or a type error is a build error naming the hook or
 * file:line:col, before the slow componentize step, and nothing is written.
 * At run time, a JS hook's uncaught exception or a value that is not a
 * status is reported with its message, not as a bare `unreachable`.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildJsModule } from '../../host/build/js.js';
import { typeCheckModule } from '../../host/build/js-typecheck.js';
import { runStack } from '../../host/stack/index.js';
import { GUESTS } from './c-host.js';

const dir = mkdtempSync(join(tmpdir(), 'pamwasm-jschecks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SDK = JSON.stringify(join(GUESTS, 'sdk', 'js', 'index.js'));

function tsModule(name: string, source: string): { folder: string; out: string } {
  const folder = join(dir, name);
  mkdirSync(folder);
  writeFileSync(join(folder, 'index.ts'), source);
  return { folder, out: join(dir, `${name}.wasm`) };
}

describe('type-checking TS modules at build', () => {
  test('a hook returning a misspelled status is a build error naming the hook, and writes nothing', async () => {
    const { folder, out } = tsModule('succes', `import { STATUS, type SessionFlags } from ${SDK};
export function openSession(_flags: SessionFlags, _argv: string[]) { return 'succes'; }
export function closeSession(_flags: SessionFlags, _argv: string[]) { return STATUS.SUCCESS; }
`);
    await expect(buildJsModule(folder, out)).rejects.toMatchObject({
      code: 'ERR_PAMWASM_BUILD',
      message: expect.stringMatching(/does not type-check: openSession: Type '.*=> string' is not assignable to type 'SessionHook'/),
    });
    expect(existsSync(out)).toBe(false);
  });

  test('a type error in the module is a build error at its file:line:col, with tsc\'s suggestion', async () => {
    const { folder, out } = tsModule('annotated', `import { STATUS, type SessionFlags, type Status } from ${SDK};
export function openSession(_flags: SessionFlags, _argv: string[]): Status { return 'succes'; }
export function closeSession(_flags: SessionFlags, _argv: string[]): Status { return STATUS.SUCCESS; }
`);
    await expect(buildJsModule(folder, out)).rejects.toMatchObject({
      message: expect.stringContaining(`${join(folder, 'index.ts')}:2:78: Type '"succes"' is not assignable to type 'Status'. Did you mean '"success"'?`),
    });
  });

  test('the bundled TS module type-checks', async () => {
    const messages: string[] = [];
    expect(await typeCheckModule(join(GUESTS, 'pam_setenv', 'index.ts'), (m) => messages.push(m))).toBe(true);
    expect(messages).toEqual([]);
  });
});

describe('faults of JS modules at run time', () => {
  test('an uncaught exception and a returned non-status are reported with what happened', async () => {
    const folder = join(dir, 'faulty');
    mkdirSync(folder);
    writeFileSync(join(folder, 'index.js'), `export function openSession() { throw new RangeError('no config at /etc/faulty.conf'); }
export function closeSession() { return 'succes'; }
`);
    const out = join(dir, 'faulty.wasm');
    await buildJsModule(folder, out);
    const stackFile = join(dir, 'faulty.stack');
    writeFileSync(stackFile, `session required ${out}\n`);
    const items = { service: 'login', user: 'alice' };
    const open = await runStack({ stackFile, items, phase: 'open' });
    expect(open.open?.name).toBe('PAM_SESSION_ERR');
    expect(open.trace[0].fault?.kind).toBe('trap');
    // The words carry the module's own exception for its author.
    expect(open.trace[0].reason).toMatch(/open-session openSession threw RangeError: no config at \/etc\/faulty\.conf \(trapped: /);
    const close = await runStack({ stackFile, items, phase: 'close' });
    expect(close.close?.name).toBe('PAM_SESSION_ERR');
    expect(close.trace[0].fault?.kind).toBe('trap');
    expect(close.trace[0].reason).toMatch(/close-session closeSession returned "succes", which is not a status/);
  }, 120_000);
});
