// The JS guest SDK and the JS builder's refusals: everything here runs
// without componentize-js, so it is fast.
import { afterEach, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAM_CODES } from '../../host/codes/index.js';
import { BuildError } from '../../host/errors/index.js';
import { packageRoot } from '../../host/wit/index.js';
import { buildJsModule, jsGuestFolders } from '../../host/build/js.js';
import { GUEST_TYPES_FILE, guestTypes } from '../../host/build/js-types.js';
import { STATUS, isStatus } from '../../guest-modules/sdk/js/status.js';
import { expand } from '../../guest-modules/sdk/js/substitute.js';

describe('the JS guest SDK', () => {
  test('session.d.ts is what the WIT generates', async () => {
    const onDisk = await readFile(GUEST_TYPES_FILE, 'utf8');
    // Stale after a WIT change: `npm run build:guests` rewrites it.
    expect(onDisk).toBe(await guestTypes());
  });

  test('declares every world interface under both its plain and versioned name', async () => {
    const text = await readFile(GUEST_TYPES_FILE, 'utf8');
    for (const iface of ['items', 'env', 'data', 'log', 'conversation']) {
      expect(text).toContain(`declare module 'pamwasm:session/${iface}' {`);
      expect(text).toContain(`declare module 'pamwasm:session/${iface}@0.1.0' {`);
    }
  });

  test('STATUS has the host table names and WIT cases, and nothing else', () => {
    expect(Object.entries(STATUS)).toEqual(PAM_CODES.map((c) => [c.name.slice('PAM_'.length), c.status]));
    expect(isStatus('buf-err')).toBe(true);
    expect(isStatus('BUF_ERR')).toBe(false);
  });

  test('the SDK and every JS guest module type-check', () => {
    const tsc = join(packageRoot(), 'node_modules', '.bin', 'tsc');
    const run = () => execFileSync(tsc, ['-p', join(packageRoot(), 'guest-modules', 'sdk', 'js')], { encoding: 'utf8', stdio: 'pipe' });
    expect(run).not.toThrow();
  });
});

describe('substitute, as pam_echo expands %', () => {
  const items: Record<string, string> = { user: 'alice', service: 'login', tty: 'tty1', rhost: 'h.example', ruser: 'bob' };
  const lookup = (i: string) => items[i];

  test('replaces %u %s %t %H %U with the items', () => {
    expect(expand('%u/%s/%t/%H/%U', lookup)).toBe('alice/login/tty1/h.example/bob');
  });

  test('gives (null) for an unset item and for %h, unless told otherwise', () => {
    expect(expand('%u@%h', () => undefined)).toBe('(null)@(null)');
    expect(expand('%u@%h', () => undefined, { missing: '', hostname: 'box' })).toBe('@box');
  });

  test('drops the % of an unknown escape, so %% is %, and keeps a trailing %', () => {
    expect(expand('100%% %x 5%', lookup)).toBe('100% x 5%');
  });

  test('asks the host for each item once per call', () => {
    const asked: string[] = [];
    expand('%u %u %u %s', (i) => { asked.push(i); return items[i]; });
    expect(asked).toEqual(['user', 'service']);
  });
});

describe('the JS builder refuses a bad module with one clear sentence', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  async function moduleWith(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'pamwasm-js-bad-'));
    dirs.push(dir);
    await mkdir(join(dir, 'm'));
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, 'm', name), text);
    return join(dir, 'm');
  }

  async function buildError(files: Record<string, string>): Promise<BuildError> {
    const m = await moduleWith(files);
    const e = await buildJsModule(m, join(m, 'out.wasm')).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(BuildError);
    expect((e as BuildError).code).toBe('ERR_PAMWASM_BUILD');
    return e as BuildError;
  }

  test('a folder without an entry', async () => {
    expect((await buildError({ 'README.md': '' })).message).toMatch(/has no module entry: add index\.ts or index\.js/);
  });

  test('a module without closeSession', async () => {
    const e = await buildError({ 'index.js': "export function openSession() { return 'success'; }" });
    expect(e.message).toMatch(/does not export closeSession/);
  });

  test('a Node import, with file:line', async () => {
    const e = await buildError({ 'index.js': "import { readFileSync } from 'node:fs';\nexport const openSession = readFileSync;" });
    expect(e.message).toMatch(/index\.js:1:\d+: Could not resolve "node:fs"; a guest can import only/);
  });

  test('a host interface the world does not have, or another WIT version', async () => {
    expect((await buildError({ 'index.js': "import { x } from 'pamwasm:session/files';\nexport { x };" })).message)
      .toMatch(/"pamwasm:session\/files" is not a host interface; the host provides pamwasm:session\/items/);
    expect((await buildError({ 'index.js': "import { x } from 'pamwasm:session/env@9.0.0';\nexport { x };" })).message)
      .toMatch(/asks for version 9\.0\.0, but this host provides pamwasm:session@0\.1\.0/);
  });

  test('a value import from the types-only interface', async () => {
    const e = await buildError({ 'index.js': "import { Status } from 'pamwasm:session/types';\nexport { Status };" });
    expect(e.message).toMatch(/holds only types; import them with `import type`/);
  });

  test('JS guest folders are the ones with an entry and no C sources', () => {
    const names = jsGuestFolders().map((d) => d.split('/').pop());
    expect(names).toContain('pam_setenv');
    expect(names).not.toContain('sdk');
  });
});
