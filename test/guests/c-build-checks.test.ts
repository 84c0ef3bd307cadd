/**
 * Mistakes in a C module are found when it is built, named as the author
 * wrote them: a missing, misspelled or mistyped hook by the hook's name, a
 * libc call that needs the system by the C function and the grant that
 * would allow it. A refused build writes no file.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCModule } from '../../host/build/c.js';
import { componentHookProblems } from '../../host/loader/core-names.js';
import { runStack } from '../../host/stack/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pamwasm-cchecks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOOK = (name: string, params = 'pam_handle_t *pamh, int flags, int argc, const char **argv') =>
  `int ${name}(${params}) { (void)pamh; (void)flags; (void)argc; (void)argv; return PAM_SUCCESS; }\n`;

/** A module folder holding `source` as mod.c; returns the folder and where its output would go. */
function moduleWith(name: string, source: string, header = '#include <security/pam_modules.h>\n') {
  const folder = join(dir, name);
  mkdirSync(folder);
  writeFileSync(join(folder, 'mod.c'), `${header}${source}`);
  return { folder, out: join(dir, `${name}.wasm`) };
}

async function refusal(name: string, source: string, header?: string): Promise<string> {
  const { folder, out } = moduleWith(name, source, header);
  const e = await buildCModule(folder, out).then(() => undefined, (err: Error & { code?: string }) => err);
  expect(e?.code).toBe('ERR_PAMWASM_BUILD');
  expect(existsSync(out)).toBe(false);
  return e!.message;
}

describe('session hooks', () => {
  test('a misspelled hook is refused naming the missing hook and the misspelling', async () => {
    const message = await refusal('typo', HOOK('pam_sm_open_sesion') + HOOK('pam_sm_close_session'));
    expect(message).toMatch(/pam_sm_open_session is not defined \(pam_sm_open_sesion is defined: is it misspelled\?\)/);
  });

  test('a module without its close hook is refused naming pam_sm_close_session', async () => {
    const message = await refusal('openonly', HOOK('pam_sm_open_session'));
    expect(message).toMatch(/pam_sm_close_session is not defined/);
    expect(message).not.toMatch(/pam_sm_open_session is not/);
  });

  test('a hook with five parameters is refused naming it and the parameters it must take', async () => {
    // Without pam_modules.h, which would make it a compile error, the linker alone sees the mismatch.
    const message = await refusal('five', HOOK('pam_sm_open_session', 'void *pamh, int flags, int argc, const char **argv, int extra') + HOOK('pam_sm_close_session', 'void *pamh, int flags, int argc, const char **argv'), '#define PAM_SUCCESS 0\n');
    expect(message).toMatch(/pam_sm_open_session does not have pam_modules\.h's parameters \(pam_handle_t \*pamh, int flags, int argc, const char \*\*argv\)/);
  });

  test('a component built anyway says which hook it lacks, and its line at run time gives that reason', async () => {
    const { folder, out } = moduleWith('lacking', HOOK('pam_sm_open_session'));
    const bytes = await buildCModule(folder, out, { allowHookProblems: true });
    expect(componentHookProblems(bytes)).toEqual([{ hook: 'pam_sm_close_session', problem: 'missing' }]);
    const stackFile = join(dir, 'lacking.stack');
    writeFileSync(stackFile, `session required ${out}\n`);
    const r = await runStack({ stackFile, items: { service: 'login', user: 'alice' }, phase: 'close' });
    expect(r.trace[0]).toMatchObject({ name: 'PAM_MODULE_UNKNOWN', reason: `${out}: pam_sm_close_session is not defined` });
  });
});

describe('libc functions that need the system', () => {
  test('fopen, time and getenv are named as C functions with what would allow each', async () => {
    const message = await refusal('system', `#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{ (void)pamh; (void)flags; (void)argc; (void)argv; FILE *f = fopen("/etc/motd", "r"); return f && getenv("X") && time(0) ? PAM_SUCCESS : PAM_SESSION_ERR; }
${HOOK('pam_sm_close_session')}`);
    expect(message).toMatch(/\bfopen \(files: build the module with \{"wasi": true\} in its build\.json and grant read=DIR on its stack line\)/);
    expect(message).toMatch(/\btime \(clocks: .*grant clocks on its stack line\)/);
    expect(message).toMatch(/\bgetenv \(the process environment, which no grant gives: call pam_getenv/);
    expect(message).not.toMatch(/path_open|proc_exit|wasi_snapshot_preview1/);
  });
});

describe('faults at run time', () => {
  test('a module that calls abort() is reported as such, with the function that called it', async () => {
    const { folder, out } = moduleWith('aborts', `#include <stdlib.h>
int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{ (void)pamh; (void)flags; (void)argv; if (argc == 0) abort(); return PAM_SUCCESS; }
${HOOK('pam_sm_close_session')}`);
    await buildCModule(folder, out);
    const stackFile = join(dir, 'aborts.stack');
    writeFileSync(stackFile, `session required ${out}\n`);
    const r = await runStack({ stackFile, items: { service: 'login', user: 'alice' }, phase: 'open' });
    expect(r.open?.name).toBe('PAM_SESSION_ERR');
    expect(r.trace[0].fault?.kind).toBe('trap');
    // The words name the site for the module's author.
    expect(r.trace[0].reason).toMatch(/open-session trapped: unreachable \(the module called abort\(\) in pam_sm_open_session\)/);
  });
});
