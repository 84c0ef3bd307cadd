/**
 * The libc functions that make a C module import WASI, by what they need
 * and how to allow it (or what to call instead). A module built without
 * WASI gets them named as C functions instead of the WASI imports they link
 * in (`fopen`, not `path_open`): found in the core module's function names
 * (loader/core-names.ts), since wasm-ld keeps the name section.
 */

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
export function systemCalls(names: Set<string>): string[] {
  const out: string[] = [];
  for (const need of NEEDS) {
    const found = need.functions.filter((f) => names.has(f));
    if (found.length) out.push(`${found.join(', ')} (${need.fix})`);
  }
  return out;
}
