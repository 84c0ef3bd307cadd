/**
 * The files `pamwasm new NAME --lang c|ts` writes: a module with both hooks
 * (open greets the user and puts one variable, close writes a syslog line),
 * a stack that runs it, a README, a test for node:test that uses the
 * package's harness (pamwasm/testing), and for TS a tsconfig that sees the
 * SDK's types through the package's `pamwasm/sdk` export.
 */

export type Lang = 'c' | 'ts';

/** The variable the module puts at open, e.g. HELLO_OPENED. */
const envName = (name: string) => `${name.toUpperCase()}_OPENED`;

function cSource(name: string): string {
  return `/*
 * ${name}: a PAM session module. Opening a session shows "<greeting>, <user>"
 * (greeting=WORD sets the word; nothing is shown with PAM_SILENT) and puts
 * ${envName(name)}=1 into the PAM environment; closing it writes a syslog line.
 */
#include <string.h>
#include <syslog.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const char *greeting = "hello";
    const char *user = NULL;

    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "greeting=", 9) == 0)
            greeting = argv[i] + 9;
        else
            pam_syslog(pamh, LOG_ERR, "unknown option: %s", argv[i]);
    }
    if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL)
        return PAM_SESSION_ERR;
    if (!(flags & PAM_SILENT))
        pam_info(pamh, "%s, %s", greeting, user);
    return pam_putenv(pamh, "${envName(name)}=1");
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const char *user = NULL;

    (void)flags; (void)argc; (void)argv;
    if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL)
        user = "(unknown)";
    pam_syslog(pamh, LOG_INFO, "session closed for %s", user);
    return PAM_SUCCESS;
}
`;
}

function tsSource(name: string): string {
  return `/**
 * ${name}: a PAM session module. Opening a session shows "<greeting>, <user>"
 * (greeting=WORD sets the word; nothing is shown with PAM_SILENT) and puts
 * ${envName(name)}=1 into the PAM environment; closing it writes a syslog line.
 */
import { getItem, info, putEnv, syslog, STATUS, type SessionFlags, type Status } from 'pamwasm/sdk';

export function openSession(flags: SessionFlags, argv: string[]): Status {
  let greeting = 'hello';
  for (const arg of argv) {
    if (arg.startsWith('greeting=')) greeting = arg.slice('greeting='.length);
    else syslog('err', \`unknown option: \${arg}\`);
  }
  const user = getItem('user');
  if (user === undefined) return STATUS.SESSION_ERR;
  if (!flags.silent) info(\`\${greeting}, \${user}\`);
  return putEnv('${envName(name)}=1');
}

export function closeSession(_flags: SessionFlags, _argv: string[]): Status {
  syslog('info', \`session closed for \${getItem('user') ?? '(unknown)'}\`);
  return STATUS.SUCCESS;
}
`;
}

const TSCONFIG = `{
  "//": "Type-checks the module against the SDK (pamwasm/sdk): npx tsc -p .",
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022"],
    "module": "ESNext",
    "moduleResolution": "Bundler",
    "strict": true,
    "noEmit": true,
    "isolatedModules": true,
    "types": []
  },
  "include": ["*.ts"]
}
`;

function stack(name: string): string {
  return `# Runs ${name}: npx pamwasm run --stack ${name}/${name}.stack --module-dir . --service login --user alice
# (module names are found in --module-dir, where \`npx pamwasm build ${name}\` writes ${name}.wasm)
session required ${name}.wasm greeting=hello
`;
}

function test(name: string): string {
  return `// Runs ${name}.wasm through pamwasm's dispatcher and sandbox: node --test ${name}/
// Build it first: npx pamwasm build ${name}
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runModule } from 'pamwasm/testing';

const here = dirname(fileURLToPath(import.meta.url));
const stack = join(here, '${name}.stack');
const moduleDir = join(here, '..');

test('open greets the user and puts ${envName(name)}; close logs it', async () => {
  const r = await runModule({ stack, moduleDir, items: { service: 'login', user: 'alice' } });
  assert.equal(r.open?.name, 'PAM_SUCCESS');
  assert.equal(r.close?.name, 'PAM_SUCCESS');
  assert.deepEqual(r.messages, [{ style: 'info', text: 'hello, alice' }]);
  assert.equal(r.env.${envName(name)}, '1');
  assert.ok(r.log.some((l) => l.message === 'session closed for alice'), JSON.stringify(r.log));
});

test('shows nothing with PAM_SILENT', async () => {
  const r = await runModule({ module: join(moduleDir, '${name}.wasm'), args: ['greeting=hi'], silent: true, items: { user: 'bob' } });
  assert.equal(r.open?.name, 'PAM_SUCCESS');
  assert.deepEqual(r.messages, []);
});
`;
}

function readme(name: string, lang: Lang): string {
  const source = lang === 'c' ? `${name}.c` : 'index.ts';
  return `# ${name}

A PAM session module (${lang === 'c' ? 'C' : 'TypeScript'}): opening a session shows
"<greeting>, <user>" and puts \`${envName(name)}=1\` into the PAM environment;
closing it writes a syslog line.

| argument | meaning |
| --- | --- |
| \`greeting=WORD\` | the word before the user's name (default \`hello\`) |

\`\`\`sh
npx pamwasm build ${name}              # writes ${name}.wasm here${lang === 'ts' ? ' (type-check first: npx tsc -p ' + name + ')' : ''}
npx pamwasm run --stack ${name}/${name}.stack --module-dir . --service login --user alice
node --test ${name}/                   # ${name}.test.mjs, through pamwasm/testing
\`\`\`

Edit \`${source}\`; the hooks are \`${lang === 'c' ? 'pam_sm_open_session' : 'openSession'}\` and \`${lang === 'c' ? 'pam_sm_close_session' : 'closeSession'}\`.
`;
}

/** The files of a new module folder, by name. */
export function moduleFiles(name: string, lang: Lang): Record<string, string> {
  return {
    ...(lang === 'c' ? { [`${name}.c`]: cSource(name) } : { 'index.ts': tsSource(name), 'tsconfig.json': TSCONFIG }),
    'README.md': readme(name, lang),
    [`${name}.stack`]: stack(name),
    [`${name}.test.mjs`]: test(name),
  };
}
