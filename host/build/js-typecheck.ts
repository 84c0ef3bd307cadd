/**
 * Type-checks a TS guest module before it is bundled: esbuild only strips
 * types, so without this a hook returning `'succes'` builds, and fails
 * closed at every login. The module's hooks are checked against the SDK's
 * `SessionHook` (flags, argv) => Status, with the SDK's settings
 * (guest-modules/sdk/js/tsconfig.json), by the `typescript` package's `tsc`
 * when it is installed; without it the build goes on and says so.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { BuildError } from '../errors/index.js';
import { GUEST_MODULES_DIR } from './guests.js';

const SDK_DIR = join(GUEST_MODULES_DIR, 'sdk', 'js');
const SHOWN_ERRORS = 3;

/** The `tsc` script of the installed `typescript` package, or undefined. */
function findTsc(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  } catch {
    return undefined;
  }
}

/**
 * Type-checks `entry` (a .ts file) and its imports; throws BuildError with
 * the first errors as `file:line:col: message`. Returns false when it could
 * not check (no `typescript`), after telling `progress` what to install.
 */
export async function typeCheckModule(entry: string, progress: (msg: string) => void): Promise<boolean> {
  const tsc = findTsc();
  if (!tsc) {
    progress('not type-checked: the typescript package is not installed (npm install --save-dev typescript)');
    return false;
  }
  const work = await mkdtemp(join(tmpdir(), 'pamwasm-tsc-'));
  try {
    const check = join(work, 'hooks.ts');
    await writeFile(check, [
      `import * as mod from ${JSON.stringify(entry.replace(/\.ts$/, '.js'))};`,
      `import type { SessionHook } from ${JSON.stringify(join(SDK_DIR, 'index.js'))};`,
      '// Each hook must take (flags, argv) and return a Status of the world.',
      'export const openSession: SessionHook = mod.openSession;',
      'export const closeSession: SessionHook = mod.closeSession;',
      '',
    ].join('\n'));
    await writeFile(join(work, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', lib: ['ES2022'], module: 'ESNext', moduleResolution: 'Bundler',
        strict: true, noEmit: true, isolatedModules: true, types: [], pretty: false,
      },
      files: [join(SDK_DIR, 'session.d.ts'), check],
    }));
    const { code, output } = await new Promise<{ code: number; output: string }>((done) => {
      execFile(process.execPath, [tsc, '-p', join(work, 'tsconfig.json')], { encoding: 'utf8', maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
        done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
      });
    });
    if (code === 0) return true;
    // Errors in the generated file are about a hook: named by its line there.
    const hookAt: Record<string, string> = { 4: 'openSession', 5: 'closeSession' };
    const errors = [...output.matchAll(/^(.+?)\((\d+),(\d+)\): error TS\d+: (.+?)\.?$/gm)]
      .map(([, file, line, col, message]) => (resolve(file) === check ? `${hookAt[line] ?? 'a hook'}: ${message}` : `${resolve(file)}:${line}:${col}: ${message}`));
    const shown = errors.slice(0, SHOWN_ERRORS).join('; ');
    throw new BuildError(errors.length
      ? `${entry} does not type-check: ${shown}${errors.length > SHOWN_ERRORS ? ` (and ${errors.length - SHOWN_ERRORS} more)` : ''}; fix the types (hooks return a Status such as STATUS.SUCCESS).`
      : `tsc could not check ${entry}: ${output.trim().split('\n')[0]}; check the typescript installation.`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
