/**
 * What the C builder checks in a linked core module before it makes a
 * component, so that mistakes are named as the author wrote them: the
 * libc functions that need WASI, as C functions with what would allow them
 * (`fopen`, not `path_open`), and the session hooks, missing, misspelled
 * or with other parameters. Both are found in the core module's function
 * names (loader/core-names.ts): wasm-ld keeps the name section.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildError } from '../errors/index.js';
import { closest } from '../errors/suggest.js';
import { C_HOOKS, describeHookProblems, hookProblems } from '../loader/core-names.js';
import { WIT_PACKAGE, WORLD_NAME } from '../wit/index.js';
import type { CModuleConfig } from './c.js';

interface SystemNeed {
  /** C functions a module calls, as wasi-libc names them. */
  functions: readonly string[];
  /** What they reach and how a stack line can allow it, or what to use instead. */
  fix: string;
}

const WASI_BUILD = 'build the module with {"wasi": true} in its build.json';

const NEEDS: readonly SystemNeed[] = [
  { functions: ['fopen', 'freopen', 'open', 'openat', 'opendir', 'stat', 'lstat', 'access', 'readlink', 'realpath', 'scandir'],
    fix: `files: ${WASI_BUILD} and grant read=DIR on its stack line` },
  { functions: ['time', 'clock_gettime', 'gettimeofday', 'clock', 'nanosleep', 'sleep', 'usleep', 'localtime', 'gmtime'],
    fix: `clocks: ${WASI_BUILD} and grant clocks on its stack line` },
  { functions: ['getentropy', 'getrandom', 'arc4random', 'arc4random_buf', 'arc4random_uniform'],
    fix: `random bytes: ${WASI_BUILD} and grant random on its stack line` },
  { functions: ['getenv', 'secure_getenv', 'setenv', 'putenv', 'unsetenv', 'clearenv'],
    fix: 'the process environment, which no grant gives: call pam_getenv and pam_putenv for the session\'s' },
  { functions: ['exit', 'atexit'],
    fix: 'process exit, which no grant gives: return a PAM code from the hook' },
  { functions: ['getchar', 'scanf'],
    fix: 'stdin, which no grant gives: ask the user with pam_prompt' },
];

/**
 * One clause per libc function found in `names` that needs the system, with
 * its fix, e.g. `fopen (files: build the module with ...)`. Empty when none
 * of the known ones is there.
 */
function systemCalls(names: Set<string>): string[] {
  const out: string[] = [];
  for (const need of NEEDS) {
    const found = need.functions.filter((f) => names.has(f));
    if (found.length) out.push(`${found.join(', ')} (${need.fix})`);
  }
  return out;
}

/**
 * A libc function that needs the system (files, clocks, exit, stdin, ...)
 * links in a WASI import, which the world does not offer: the component
 * would not instantiate. Say which C functions, and what would allow them,
 * before wasm-tools names only WASI imports. A build.json may allow more:
 * WASI preview1 (`wasi`), and the packages its WIT file declares.
 */
export function checkCoreImports(name: string, core: Uint8Array, names: Set<string>, config: CModuleConfig, extraWit: string): void {
  const prefixes = [`${WIT_PACKAGE}/`, ...[...extraWit.matchAll(/\bpackage\s+([a-z0-9-]+:[a-z0-9-]+)/g)].map((m) => `${m[1]}/`)];
  const allowed = (module: string) => (config.wasi && module === 'wasi_snapshot_preview1') || prefixes.some((p) => module.startsWith(p));
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(core as Uint8Array<ArrayBuffer>));
  const outside = imports.filter((i) => !allowed(i.module)).map((i) => `${i.module}.${i.name}`);
  if (outside.length === 0) return;
  const calls = systemCalls(names);
  throw new BuildError(calls.length > 0
    ? `${name} calls C functions that need the system, which the ${WORLD_NAME} world does not give: ${calls.join('; ')}.`
    : `${name} imports ${outside.join(', ')}, outside the ${WORLD_NAME} world: it calls a libc function that needs the system (files, clocks, exit, stdin); use the SDK's pam_* calls instead.`);
}

/**
 * Both session hooks must be there with pam_modules.h's parameters: libpam
 * would dispatch a missing one as PAM_MODULE_UNKNOWN at every login, and
 * wasm-ld turns a mismatched one into a trap. A misspelled definition
 * (`pam_sm_open_sesion`) is what usually hides behind a missing hook.
 */
export function checkHooks(name: string, moduleDir: string, sources: string[], names: Set<string>): void {
  const problems = hookProblems(names);
  if (problems.length === 0) return;
  const defined = new Set(sources.flatMap((f) => [...readFileSync(join(moduleDir, f), 'utf8').matchAll(/\b(pam_sm_\w+)\s*\(/g)].map((m) => m[1])));
  const hints = problems.filter((p) => p.problem === 'missing')
    .map((p) => [...defined].find((d) => !(C_HOOKS as readonly string[]).includes(d) && closest(d, [p.hook]) === p.hook))
    .filter((d): d is string => d !== undefined)
    .map((d) => ` (${d} is defined: is it misspelled?)`);
  throw new BuildError(
    `${name}: ${describeHookProblems(problems)}${hints.join('')}; a session module defines both hooks as int pam_sm_…_session(pam_handle_t *pamh, int flags, int argc, const char **argv).`,
  );
}
