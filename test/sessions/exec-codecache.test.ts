/**
 * The safety checks of `pamwasm exec`'s V8 code cache (bin/pamwasm.js):
 * a cache is used only when its header names this very script (sha256) and
 * this node, and when it has the script's owner and no one else may write
 * it; any other cache is ignored (and rewritten), and exec gives the same
 * result. The launcher runs from a copy in a temp dir (bin/ and the exec
 * script copied, the rest of the package linked), so dist/ is not touched.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE, ROOT, Scratch } from './support.js';

const { usableCodeCache, codeCacheHeader } = createRequire(import.meta.url)(join(ROOT, 'bin', 'pamwasm.js')) as {
  usableCodeCache: (data: Buffer, header: string, cacheStat: { uid: number; mode: number }, scriptStat: { uid: number; mode: number }) => Buffer | undefined;
  codeCacheHeader: (source: string) => string;
};

const dir = new Scratch();
const copy = join(dir.path, 'pkg');
const script = join(copy, 'dist', 'pamwasm-exec.cjs');
const cacheFile = `${script}.codecache`;
let stack: string;

beforeAll(() => {
  mkdirSync(join(copy, 'bin'), { recursive: true });
  mkdirSync(join(copy, 'dist'));
  for (const f of readdirSync(join(ROOT, 'bin'))) copyFileSync(join(ROOT, 'bin', f), join(copy, 'bin', f));
  copyFileSync(join(ROOT, 'dist', 'pamwasm-exec.cjs'), script);
  copyFileSync(join(ROOT, 'dist', 'owner-rule.cjs'), join(copy, 'dist', 'owner-rule.cjs'));
  symlinkSync(join(ROOT, 'dist', 'host'), join(copy, 'dist', 'host'));
  for (const f of ['node_modules', 'wit', 'guest-modules', 'package.json']) symlinkSync(join(ROOT, f), join(copy, f));
  stack = dir.write('one.stack', 'session required pam_debug.wasm open_session=success\n');
});
afterAll(() => dir.cleanup());

const exec = () => {
  const r = spawnSync(NODE, [join(copy, 'bin', 'pamwasm.js'), 'exec', '--stack', stack, '--registry', join(dir.path, 'registry.db'), '--cache-dir', join(dir.path, 'cache')], {
    env: { PAM_TYPE: 'open_session', PAM_SERVICE: 'login', PAM_USER: 'alice', PAM_TTY: 'pts/1' }, encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const ok = { code: 0, stdout: 'open_session=success\n', stderr: '' };
const header = () => codeCacheHeader(readFileSync(script, 'utf8'));
const v8Data = () => readFileSync(cacheFile).subarray(header().length);

describe('the exec code cache (bin/pamwasm.js)', () => {
  it('is made by a run that found none, and then used as it is', () => {
    expect(exec()).toEqual(ok);
    const made = readFileSync(cacheFile);
    expect(made.subarray(0, header().length).toString('latin1')).toBe(header());
    const before = statSync(cacheFile);
    expect(exec()).toEqual(ok);
    const after = statSync(cacheFile);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(usableCodeCache(made, header(), before, statSync(script))).toEqual(made.subarray(header().length));
  });

  it.each([
    ['another script (wrong sha256)', () => header().replace(/ [0-9a-f]{64} /, ` ${'0'.repeat(64)} `)],
    ['another node version', () => header().replace(process.version, 'v0.0.1')],
    ['another format', () => header().replace('codecache 1 ', 'codecache 0 ')],
  ])('is ignored and rewritten when its header names %s', (_what, wrongHeader) => {
    exec();
    writeFileSync(cacheFile, Buffer.concat([Buffer.from(wrongHeader(), 'latin1'), v8Data()]), { mode: 0o644 });
    expect(usableCodeCache(readFileSync(cacheFile), header(), statSync(cacheFile), statSync(script))).toBeUndefined();
    expect(exec()).toEqual(ok);
    expect(readFileSync(cacheFile).subarray(0, header().length).toString('latin1')).toBe(header());
  });

  it.each([0o664, 0o646, 0o666])('is ignored and replaced when its mode is %o (writable by group or others)', (mode) => {
    exec();
    chmodSync(cacheFile, mode);
    expect(usableCodeCache(readFileSync(cacheFile), header(), statSync(cacheFile), statSync(script))).toBeUndefined();
    expect(exec()).toEqual(ok);
    expect(statSync(cacheFile).mode & 0o022).toBe(0);
  });

  it('is ignored when it has another owner than the script', () => {
    exec();
    const data = readFileSync(cacheFile);
    const st = statSync(cacheFile);
    const mine = { uid: st.uid, mode: st.mode };
    expect(usableCodeCache(data, header(), mine, statSync(script))).toBeDefined();
    expect(usableCodeCache(data, header(), { ...mine, uid: st.uid + 1 }, statSync(script))).toBeUndefined();
    expect(usableCodeCache(data, header(), mine, { uid: st.uid + 1, mode: 0o644 })).toBeUndefined();
    expect(usableCodeCache(data.subarray(0, 10), header(), mine, statSync(script))).toBeUndefined();
  });

  it.runIf(process.getuid?.() === 0)('is ignored and replaced when another user owns it (as root)', async () => {
    const { chownSync } = await import('node:fs');
    exec();
    chownSync(cacheFile, 65534, statSync(cacheFile).gid);
    expect(exec()).toEqual(ok);
    expect(statSync(cacheFile).uid).toBe(statSync(script).uid);
  });
});
