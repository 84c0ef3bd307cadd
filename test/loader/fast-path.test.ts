/**
 * The loader's fast path (host/loader/component) against jco's glue, on
 * every component in the repository: the same decision (and error) at load,
 * the same public fields, and instances that behave the same through the real
 * host imports, with good and bad values from both sides.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadComponent, type ImportObject } from '../../host/loader/index.js';
import { BUNDLED_MODULE_DIR } from '../../host/stack/index.js';
import { HOSTILE_DIR } from '../support/hostile.js';
import { close, loadBoth, open, runCalls, sameFields, type Call, type HostTweak } from '../support/paths.js';

const wasm = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.wasm')).sort().map((f) => join(dir, f));
const GUESTS = wasm(BUNDLED_MODULE_DIR);
const HOSTILE = wasm(HOSTILE_DIR);
const name = (path: string) => path.split('/').slice(-3).join('/');

/** 256 pages: a memory bomb is held to 16 MiB on both paths. */
const METER = { maxMemoryPages: 256 };

const CALLS: Call[][] = [
  [open({}, []), close({}, [])],
  [open({ silent: true }, ['open_session=session_err', 'close_session=ignore']), close(undefined, ['delete']), close(null, [])],
  [open(null, ['NAME=value', 'value=v1', 'token=tok', '%u on %t from %h %s %H %U', 'HOME', 'FOO=%u']), close({ silent: false }, ['HOME']), open({}, [])],
  [open({}, ['', 'é', '😀 x', 'x'.repeat(5000)]), close({ silent: 1 }, ['file=/nonexistent'])],
  // Values the world does not allow, from the host's side.
  [open(5, []), open('silent', []), open({}, ['ok', 123]), open({}, 'not a list'), close({}, [null])],
  // The hostile corpus's own arguments.
  [open({}, ['oob']), close({}, [])],
  [open({}, ['divzero'])],
  [open({}, ['nullcall'])],
  [open({}, ['memory'])],
  [open({}, ['bytes=70000', 'count=30']), close({}, ['count=5'])],
  [open({}, ['retries=1'])],
];

/** Host functions that return what the world does not allow, or throw. */
const TWEAKS: Record<string, HostTweak> = {
  'bad values': (imports) => patch(imports, {
    info: () => 'bogus',
    error: () => new Error('an Error as a status'),
    putEnv: () => 7,
    getItem: (which: string) => (which === 'user' ? 42 : 'x'),
    listEnv: () => ['A=1', '', 'é=😀'],
    getData: () => new Uint8Array([9, 8, 7, 6, 5, 4]).subarray(1, 4),
    setData: () => undefined,
    prompt: () => { throw Object.assign(new Error('no'), { payload: 'conv-err' }); },
  }),
  throwing: (imports) => patch(imports, {
    prompt: () => { throw new Error('prompt failed'); },
    info: () => { throw new RangeError('info failed'); },
    getEnv: () => { throw 'a string'; },
    syslog: () => { throw { payload: 'not an error' }; },
    deleteData: () => 'bad-item',
  }),
  'prompt errors': (imports) => patch(imports, {
    prompt: (_style: string, text: string) => { throw text.length % 2 ? { payload: 'conv-again' } : 'abort'; },
  }),
};

function patch(imports: ImportObject, fns: Record<string, (...args: never[]) => unknown>): ImportObject {
  const out: ImportObject = {};
  for (const [iface, table] of Object.entries(imports)) {
    out[iface] = { ...table };
    for (const [fn, impl] of Object.entries(fns)) if (fn in table) out[iface][fn] = impl;
  }
  return out;
}

/** Modules that run until their time limit (host_call_flood and catch_host_fault call the host in a loop). */
const runsForever = (path: string) => /loop_|host_call_flood|catch_host_fault/.test(path);
const limitMs = (path: string) => (runsForever(path) ? 100 : 10_000);

/** The flood modules' calls with a small `count=` first (their default is a million host calls). */
const callsFor = (path: string, calls: Call[]) => (/_flood/.test(path)
  ? calls.map((c) => ({ ...c, argv: Array.isArray(c.argv) ? ['count=40', ...c.argv] : c.argv }))
  : calls);

describe('the fast path and the jco path', () => {
  it.each([...GUESTS, ...HOSTILE].map((p) => [name(p), p]))('come to the same decision and behave the same: %s', async (_n, path) => {
    const { fast, jco, fastModule, jcoModule } = await loadBoth(path, { meter: METER });
    expect(sameFields(fast)).toEqual(sameFields(jco));
    if (!fastModule || !jcoModule) return;
    expect(jcoModule.via).toBe('jco');
    for (const calls of CALLS.map((c) => callsFor(path, c))) {
      expect(runCalls(fastModule, calls, { limitMs: limitMs(path) }), JSON.stringify(calls)).toEqual(runCalls(jcoModule, calls, { limitMs: limitMs(path) }));
    }
    if (runsForever(path)) return;
    for (const [what, tweak] of Object.entries(TWEAKS)) {
      for (const calls of CALLS.slice(0, 4).map((c) => callsFor(path, c))) {
        const a = runCalls(fastModule, calls, { limitMs: limitMs(path), tweak });
        expect(a, `${what}: ${JSON.stringify(calls)}`).toEqual(runCalls(jcoModule, calls, { limitMs: limitMs(path), tweak }));
      }
    }
  }, 120_000);

  it('both fail the same way when an interface the component uses is missing from the imports object', async () => {
    const { fastModule, jcoModule } = await loadBoth(join(BUNDLED_MODULE_DIR, 'pam_debug.wasm'));
    const attempt = (m: typeof fastModule) => { try { m!.instantiate({}); return 'instantiated'; } catch (e) { return `${(e as Error).constructor.name}: ${(e as Error).message}`; } };
    expect(attempt(fastModule)).toMatch(/^TypeError: Cannot destructure property/);
    expect(attempt(fastModule)).toBe(attempt(jcoModule));
  });
});

describe('which path a load takes', () => {
  it.each(GUESTS.map((p) => [name(p), p]))('is the fast one for the bundled guest %s', async (_n, path) => {
    const m = await loadComponent(path, { meter: METER });
    expect(m.via).toBe('fast');
  });

  it.each(['wasi_fs', 'wasi_sockets'])('is jco for %s, which imports WASI, once granted', async (module) => {
    const path = join(HOSTILE_DIR, `${module}.wasm`);
    const refused = await loadComponent(path).then(() => undefined, (e) => e);
    expect(refused?.code).toBe('ERR_PAMWASM_FORBIDDEN_IMPORT');
    const m = await loadComponent(path, { allowImports: refused.imports });
    expect(m.via).toBe('jco');
    expect(m.imports).toEqual(expect.arrayContaining(refused.imports.map((i: string) => i.replace(/@[^/]*$/, ''))));
  });

  it('is jco when the fast path is turned off', async () => {
    const m = await loadComponent(join(BUNDLED_MODULE_DIR, 'pam_permit.wasm'), { fastPath: false });
    expect(m.via).toBe('jco');
  });
});
