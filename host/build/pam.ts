/**
 * Builds the native PAM module, host/pam/*.c, into dist/pam_wasm.so with
 * gcc. A machine without gcc or the libpam headers (Debian `libpam0g-dev`)
 * gets one line saying so and the build goes on: only pam_wasm.so's users
 * need it. With both present, a compile error fails the build.
 *
 *   node dist/host/build/pam.js     (part of `npm run build`)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, renameSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BuildError, UsageError } from '../errors/index.js';
import { packageRoot } from '../wit/index.js';

export const PAM_SOURCE_DIR = join(packageRoot(), 'host', 'pam');
export const PAM_MODULE = join(packageRoot(), 'dist', 'pam_wasm.so');

/** The flags the module must build clean with: C99, every warning an error, only the hooks exported. */
const CFLAGS = ['-std=c99', '-Wall', '-Wextra', '-Werror', '-O2', '-fPIC', '-shared', '-fvisibility=hidden'];

/** Why pam_wasm.so cannot be built here, or null when it can. */
export function missingToolchain(): string | null {
  if (spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status !== 0) return 'gcc is not installed';
  const probe = spawnSync('gcc', ['-E', '-x', 'c', '-', '-o', '/dev/null'], { input: '#include <security/pam_modules.h>\n', stdio: ['pipe', 'ignore', 'ignore'] });
  if (probe.status !== 0) return 'the libpam headers are not installed (Debian: apt-get install libpam0g-dev)';
  return null;
}

/** Compiles pam_wasm.so to `out` (written whole, then renamed into place). */
export function buildPamModule(out = PAM_MODULE): string {
  const sources = readdirSync(PAM_SOURCE_DIR).filter((f) => f.endsWith('.c')).sort().map((f) => join(PAM_SOURCE_DIR, f));
  mkdirSync(join(out, '..'), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync('gcc', [...CFLAGS, '-o', tmp, ...sources, '-lpam'], { stdio: ['ignore', 'inherit', 'pipe'] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new BuildError(`gcc could not build pam_wasm.so from ${relative(process.cwd(), PAM_SOURCE_DIR)}:\n${stderr}`, { cause: e });
  }
  // A rename, so a process that has the old module loaded keeps its file.
  renameSync(tmp, out);
  return out;
}

/** ELF e_machine of each Node architecture pam_wasm.so may be built for (elf.h's EM_*). */
const ELF_MACHINE: Partial<Record<NodeJS.Architecture, number>> = { x64: 62, arm64: 183, ia32: 3, arm: 40, riscv64: 243, ppc64: 21, s390x: 22 };

/** Whether `file` is an ELF shared object for the machine this process runs on. */
export function builtForThisMachine(file: string): boolean {
  const head = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    if (readSync(fd, head, 0, 20, 0) < 20) return false;
  } finally {
    closeSync(fd);
  }
  const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
  return head.readUInt32BE(0) === 0x7f454c46 && machine === ELF_MACHINE[process.arch];
}

/**
 * The pam_wasm.so to install: the one the package ships (built by its
 * prepack) when it is for this machine, else one built here from the
 * shipped sources. A module libpam cannot load would make every `required`
 * line refuse logins, so a foreign one is never installed.
 */
export function pamModuleForInstall(say: (line: string) => void = () => {}): string {
  if (existsSync(PAM_MODULE) && builtForThisMachine(PAM_MODULE)) return PAM_MODULE;
  const why = existsSync(PAM_MODULE) ? `${PAM_MODULE} is not built for this machine (${process.arch})` : `${PAM_MODULE} is not built`;
  const missing = missingToolchain();
  if (missing) throw new UsageError(`${why}, and it cannot be built here: ${missing}. Install gcc and the libpam headers (Debian: apt-get install gcc libpam0g-dev), then run this again`);
  say(`${why}: building it from ${PAM_SOURCE_DIR}`);
  return buildPamModule();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const missing = missingToolchain();
  if (missing) {
    console.error(`pam_wasm.so not built: ${missing}`);
  } else {
    try {
      const out = buildPamModule();
      console.error(`built ${relative(process.cwd(), out) || out}`);
    } catch (e) {
      console.error((e as Error).message);
      process.exitCode = 1;
    }
  }
}
