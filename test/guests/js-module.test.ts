// The JS reference module pam_setenv, built for real by the JS builder (through
// the component cache, so only the first run pays the ~5-15 s componentize
// step) and run under the glue the loader generates for it, with a recording host.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { componentWit } from '@bytecodealliance/jco-transpile/wasm-tools';
import { buildJsModule, GUEST_MODULES_DIR, JS_CACHE_DIR } from '../../host/build/js.js';
import { transpileComponent } from '../../host/loader/transpile.js';
import { WORLD_IMPORTS } from '../../host/wit/index.js';

type Status = string;
interface Instance {
  openSession(flags: { silent: boolean }, argv: string[]): Status;
  closeSession(flags: { silent: boolean }, argv: string[]): Status;
}
type Instantiate = (getCoreModule: (name: string) => WebAssembly.Module, imports: Record<string, object>) => Instance;

/** A PAM handle as the guest sees it, recording every call. */
interface FakeHandle {
  items: Record<string, string | undefined>;
  putEnvResult: (nameValue: string) => Status;
  puts: string[];
  logs: [level: string, message: string][];
}

let work: string;
let bytes: Uint8Array;
let instantiate: Instantiate;
const coreModules = new Map<string, WebAssembly.Module>();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'pamwasm-js-test-'));
  bytes = await buildJsModule(join(GUEST_MODULES_DIR, 'pam_setenv'), join(work, 'pam_setenv.wasm'), { cacheDir: JS_CACHE_DIR });
  const t = await transpileComponent(bytes);
  await writeFile(join(work, 'm.js'), t.files.get(`${t.name}.js`)!);
  const glue = await import(pathToFileURL(join(work, 'm.js')).href);
  instantiate = glue.instantiate;
  for (const [name, core] of t.cores) coreModules.set(name, new WebAssembly.Module(core));
}, 180_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function run(hook: 'openSession' | 'closeSession', argv: string[], handle: Partial<FakeHandle> = {}, silent = false) {
  const h: FakeHandle = {
    items: { user: 'alice', service: 'sshd', tty: 'pts/0', rhost: 'example.org' },
    putEnvResult: () => 'success',
    puts: [],
    logs: [],
    ...handle,
  };
  const ifaces: Record<string, object> = {
    items: { getItem: (which: string) => h.items[which] },
    env: {
      getEnv: () => undefined,
      putEnv: (nameValue: string) => { h.puts.push(nameValue); return h.putEnvResult(nameValue); },
      listEnv: () => [],
    },
    data: { setData: () => 'success', getData: () => undefined, deleteData: () => 'no-module-data' },
    log: { syslog: (level: string, message: string) => { h.logs.push([level, message]); } },
    conversation: { info: () => 'success', error: () => 'success', prompt: () => { throw 'conv-err'; } },
  };
  // jco's glue asks for unversioned names; the versioned ones are given too, as a host would.
  const imports: Record<string, object> = {};
  for (const [name, impl] of Object.entries(ifaces)) {
    imports[`pamwasm:session/${name}`] = impl;
    imports[`pamwasm:session/${name}@0.1.0`] = impl;
  }
  const instance = instantiate((name) => coreModules.get(name)!, imports);
  const status = instance[hook]({ silent }, argv);
  return { status, ...h };
}

describe('pam_setenv, the JS reference module', () => {
  test('imports nothing but the session world and exports both hooks', async () => {
    const wit = await componentWit(bytes);
    const imports = [...wit.matchAll(/^\s*import ([^;]+);/gm)].map((m) => m[1].replace(/@[\d.]+$/, ''));
    // `types` holds only types but is still imported, for the world's `use`.
    expect(imports.sort()).toEqual([...WORLD_IMPORTS, 'pamwasm:session/types'].sort());
    expect(wit).toMatch(/export open-session: func/);
    expect(wit).toMatch(/export close-session: func/);
  });

  test('puts NAME=value into the PAM env with %u replaced by the user', () => {
    const r = run('openSession', ['GREETING=hello-%u']);
    expect(r.status).toBe('success');
    expect(r.puts).toEqual(['GREETING=hello-alice']);
    expect(r.logs).toEqual([]);
  });

  test('replaces pam_echo escapes: %s %t %H %U, an unset item as (null), %% as %', () => {
    const r = run('openSession', ['WHERE=%s on %t from %H by %U', 'PCT=100%%', 'ODD=%q%']);
    expect(r.puts).toEqual(['WHERE=sshd on pts/0 from example.org by (null)', 'PCT=100%', 'ODD=q%']);
  });

  test('keeps the value after the first = whole, and NAME= sets an empty value', () => {
    const r = run('openSession', ['OPTS=a=b=c', 'EMPTY=']);
    expect(r.puts).toEqual(['OPTS=a=b=c', 'EMPTY=']);
    expect(r.status).toBe('success');
  });

  test('logs an argument without = as bad, skips it and still sets the rest', () => {
    const r = run('openSession', ['debug', 'A=1']);
    expect(r.status).toBe('success');
    expect(r.puts).toEqual(['A=1']);
    expect(r.logs).toEqual([['err', 'bad argument "debug": expected NAME=value; skipped']]);
  });

  test('returns the first failing put-env status and still tries the later arguments', () => {
    const r = run('openSession', ['A=1', 'B=2', '=3', 'D=4'], {
      putEnvResult: (nv) => (nv.startsWith('B=') ? 'buf-err' : nv.startsWith('=') ? 'perm-denied' : 'success'),
    });
    expect(r.status).toBe('buf-err');
    expect(r.puts).toEqual(['A=1', 'B=2', '=3', 'D=4']);
    expect(r.logs.map(([level]) => level)).toEqual(['err', 'err']);
  });

  test('with no arguments, or PAM_SILENT, open-session succeeds', () => {
    expect(run('openSession', []).status).toBe('success');
    expect(run('openSession', ['X=%u'], {}, true).puts).toEqual(['X=alice']);
  });

  test('close-session returns success and touches nothing', () => {
    const r = run('closeSession', ['A=1']);
    expect(r.status).toBe('success');
    expect(r.puts).toEqual([]);
  });
});
