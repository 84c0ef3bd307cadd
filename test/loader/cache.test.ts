/**
 * The on-disk cache of prepared components (host/loader/cache.ts): used
 * when it is safe, refused when anyone but this user could change it, and
 * never trusted past its hashes.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadComponent } from '../../host/loader/index.js';
import { BUNDLED_MODULE_DIR } from '../../host/stack/index.js';
import { createEngine, type Engine } from '../../host/engine/index.js';

const root = mkdtempSync(join(tmpdir(), 'pamwasm-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let copies = 0;
/** pam_debug under a new path each time, so the in-memory cache (keyed by path) does not answer. */
function component(): string {
  const file = join(root, `pam_debug-${copies++}.wasm`);
  copyFileSync(join(BUNDLED_MODULE_DIR, 'pam_debug.wasm'), file);
  return file;
}

const entries = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.entry')).map((f) => join(dir, f));
const hit = () => (globalThis as { __pamwasmCacheHit?: number }).__pamwasmCacheHit ?? 0;

/** Rewrites an entry's first part (glue or plan) with `edit`; the hashes are updated, so the entry stays valid. */
function rewriteFirstPart(entry: string, edit: (text: string, name: string) => string): void {
  const data = readFileSync(entry);
  const hlen = data.readUInt32LE(0);
  const header = JSON.parse(data.subarray(4, 4 + hlen).toString());
  let at = 4 + hlen;
  const blobs = header.parts.map((p: { bytes: number }) => { const b = data.subarray(at, at + p.bytes); at += p.bytes; return b; });
  blobs[0] = Buffer.from(edit(blobs[0].toString(), header.parts[0].name));
  header.parts[0] = { ...header.parts[0], bytes: blobs[0].length, sha256: createHash('sha256').update(blobs[0]).digest('hex') };
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(h.length);
  writeFileSync(entry, Buffer.concat([len, h, ...blobs]), { mode: 0o600 });
}

/** Rewrites an entry's glue so that evaluating it counts a hit. */
function markGlue(entry: string): void {
  rewriteFirstPart(entry, (glue, name) => {
    expect(name).toBe('<glue>');
    return `${glue}\nglobalThis.__pamwasmCacheHit = (globalThis.__pamwasmCacheHit ?? 0) + 1;\n`;
  });
}

const hostImports = {
  'pamwasm:session/conversation': { info: () => 'success', error: () => 'success', prompt: () => ({ tag: 'err', val: 'conv-err' }) },
  'pamwasm:session/items': { getItem: () => undefined },
  'pamwasm:session/env': { getEnv: () => undefined, putEnv: () => 'success', listEnv: () => [] },
  'pamwasm:session/data': { setData: () => 'success', getData: () => undefined, deleteData: () => 'success' },
  'pamwasm:session/log': { syslog: () => {} },
} as never;

/** Loads through jco's glue (these tests are about its entries and code cache) and runs open-session. */
async function works(file: string, cache: { dir: string; onWarning?: (m: string) => void }, engine?: Engine) {
  const loaded = await loadComponent(file, { cache, fastPath: false, engine });
  expect(loaded.via).toBe('jco');
  const inst = loaded.instantiate(hostImports);
  expect(inst.openSession({ silent: false }, ['open_session=session_err'])).toBe('session-err');
}

describe('the component cache', () => {
  it('makes its folder 700 and entries 600, and answers a later load of the same bytes from the entry', async () => {
    const dir = join(root, 'c1');
    await works(component(), { dir });
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const [entry] = entries(dir);
    expect(statSync(entry).mode & 0o777).toBe(0o600);

    markGlue(entry);
    const before = hit();
    await works(component(), { dir });
    expect(hit()).toBe(before + 1);
  });

  it("keeps V8's code cache of the glue beside the entry once a hook has run, and loads past a bad one", async () => {
    const dir = join(root, 'c5');
    await works(component(), { dir });
    await new Promise((r) => setImmediate(r));
    const [entry] = entries(dir);
    const code = entry.replace(/\.entry$/, '.code');
    expect(statSync(code).mode & 0o777).toBe(0o600);

    // Garbage that still names the right key, glue and V8: V8 refuses it, the glue compiles afresh.
    const data = readFileSync(code);
    const hlen = data.readUInt32LE(0);
    const header = JSON.parse(data.subarray(4, 4 + hlen).toString());
    const junk = Buffer.alloc(data.length - 4 - hlen, 0x5a);
    const h = Buffer.from(JSON.stringify({ ...header, sha256: createHash('sha256').update(junk).digest('hex') }));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(h.length);
    writeFileSync(code, Buffer.concat([len, h, junk]), { mode: 0o600 });
    await works(component(), { dir });
  });

  it("keeps the fast path's plan in an entry, and answers a later load of the same bytes from it", async () => {
    const dir = join(root, 'c6');
    const first = await loadComponent(component(), { cache: { dir } });
    expect(first.via).toBe('fast');
    expect(first.instantiate(hostImports).openSession({}, ['open_session=session_err'])).toBe('session-err');
    const [entry] = entries(dir);
    // Swap the core functions behind the two hooks: a load answered from the entry shows it.
    rewriteFirstPart(entry, (text, name) => {
      expect(name).toBe('<plan>');
      const plan = JSON.parse(text);
      const [a, b] = plan.exports;
      [a.core, b.core] = [b.core, a.core];
      return JSON.stringify(plan);
    });
    const second = await loadComponent(component(), { cache: { dir } });
    expect(second.via).toBe('fast');
    expect(second.instantiate(hostImports).openSession({}, ['open_session=session_err'])).toBe('success');
  });

  it('keeps entries of the two paths apart', async () => {
    const dir = join(root, 'c7');
    const file = component();
    expect((await loadComponent(file, { cache: { dir } })).via).toBe('fast');
    expect((await loadComponent(file, { cache: { dir }, fastPath: false })).via).toBe('jco');
    expect(entries(dir)).toHaveLength(2);
  });

  it('keys entries by the options that shape them (another memory cap: another entry)', async () => {
    const dir = join(root, 'c2');
    const file = component();
    await loadComponent(file, { cache: { dir }, meter: { maxMemoryPages: 16 } });
    await loadComponent(file, { cache: { dir }, meter: { maxMemoryPages: 32 } });
    await loadComponent(file, { cache: { dir } });
    expect(entries(dir)).toHaveLength(3);
  });

  it('does not use an entry whose bytes differ from its hashes, and writes a good one over it', async () => {
    const dir = join(root, 'c3');
    await works(component(), { dir });
    const [entry] = entries(dir);
    markGlue(entry);
    const bad = readFileSync(entry);
    bad[bad.length - 10] ^= 0xff; // inside the last core module
    writeFileSync(entry, bad);
    const before = hit();
    await works(component(), { dir });
    expect(hit()).toBe(before);
    expect(readFileSync(entry).equals(bad)).toBe(false);
  });

  it('does not use an entry others could have written', async () => {
    const dir = join(root, 'c4');
    await works(component(), { dir });
    const [entry] = entries(dir);
    markGlue(entry);
    chmodSync(entry, 0o666);
    const before = hit();
    await works(component(), { dir });
    expect(hit()).toBe(before);
  });

  it.each([
    ['readable by others', (dir: string) => { mkdirSync(dir, { mode: 0o755 }); chmodSync(dir, 0o755); }, /its mode is 755, not 700/],
    ['a symlink', (dir: string) => { mkdirSync(`${dir}-real`, { mode: 0o700 }); symlinkSync(`${dir}-real`, dir); }, /not a directory \(a symlink is not followed\)/],
    ['below a folder others can write', (dir: string) => { mkdirSync(join(dir, '..'), { recursive: true }); chmodSync(join(dir, '..'), 0o777); }, /is writable by others/],
  ])('is not used when its folder is %s, with one warning', async (_what, make, why) => {
    const dir = join(root, `unsafe-${copies}`, 'cache');
    mkdirSync(join(dir, '..'), { recursive: true, mode: 0o700 });
    make(dir);
    const warnings: string[] = [];
    const engine = createEngine(); // told once per directory and engine
    await works(component(), { dir, onWarning: (m) => warnings.push(m) }, engine);
    await works(component(), { dir, onWarning: (m) => warnings.push(m) }, engine);
    expect(warnings).toEqual([expect.stringMatching(why)]);
    expect(warnings[0]).toMatch(/^not using the component cache /);
    expect(() => entries(dir)).not.toThrow();
    expect(entries(dir)).toEqual([]);
  });
});
