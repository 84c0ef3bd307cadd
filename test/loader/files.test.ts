/**
 * The loader's memory of module files (host/loader/files.ts): a file is
 * hashed once while it stays unchanged, and any change (in place or by a
 * rename over it) is seen at the next read, as a fresh hash with bytes.
 */
import { afterAll, describe, expect, it, beforeEach } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModuleFile } from '../../host/loader/files.js';
import { createEngine } from '../../host/engine/index.js';

/** Each test's own engine: what one test keeps (parses, known files, verdicts) no other sees. */
let engine = createEngine();
beforeEach(() => { engine = createEngine(); });

const dir = mkdtempSync(join(tmpdir(), 'pamwasm-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const settle = () => new Promise((r) => setTimeout(r, 2100));

describe('module files', () => {
  it('does not remember a file changed less than two seconds ago', () => {
    const f = join(dir, 'fresh.wasm');
    writeFileSync(f, 'one');
    expect(readModuleFile(f, false, engine)).toMatchObject({ sha256: sha('one') });
    expect(readModuleFile(f, false, engine).bytes).toBeDefined();
  });

  it('hashes a settled file once, and sees a change in place or a rename over it', async () => {
    const f = join(dir, 'settled.wasm');
    writeFileSync(f, 'aaaa');
    await settle();
    const first = readModuleFile(f, false, engine);
    expect(first.sha256).toBe(sha('aaaa'));
    expect(first.bytes).toBeDefined();
    const again = readModuleFile(f, false, engine);
    expect(again).toEqual({ sha256: sha('aaaa') }); // known: not read again

    writeFileSync(f, 'bbbb'); // same size, in place
    const changed = readModuleFile(f, false, engine);
    expect(changed.sha256).toBe(sha('bbbb'));
    expect(Buffer.from(changed.bytes!).toString()).toBe('bbbb');

    await settle();
    expect(readModuleFile(f, false, engine).bytes).toBeDefined(); // remembered again from here
    expect(readModuleFile(f, false, engine).bytes).toBeUndefined();
    const other = join(dir, 'other.wasm');
    writeFileSync(other, 'cccc');
    renameSync(other, f);
    expect(readModuleFile(f, false, engine)).toMatchObject({ sha256: sha('cccc') });
  }, 15_000);

  it('throws what reading throws for a missing file or a folder', () => {
    expect(() => readModuleFile(join(dir, 'missing.wasm'), false, engine)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => readModuleFile(dir, false, engine)).toThrow(expect.objectContaining({ code: 'EISDIR' }));
  });
});
