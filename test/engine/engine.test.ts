/**
 * The engine owns what sessions share: two engines share nothing, its caches
 * keep only as many entries as it is told, and a stack is prepared (checked
 * and loaded) once for every session made from it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, LruCache } from '../../host/engine/index.js';
import { loadComponent } from '../../host/loader/index.js';
import { newHandleState } from '../../host/runtime/index.js';
import { BUNDLED_MODULE_DIR, parseStackFile, StackSession } from '../../host/stack/index.js';
import * as publicApi from '../../host/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pamwasm-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stackFile = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
/** A new engine, and `lines` written as a stack file, parsed and prepared in it. */
async function prepareIn(name: string, lines: string[]) {
  const engine = createEngine();
  const stack = parseStackFile(stackFile(name, [...lines, ''].join('\n')), { strictPermissions: false, engine });
  return { engine, stack, prepared: await engine.prepare(stack, { strictPermissions: false }) };
}
const handle = () => newHandleState({ service: 'engine', user: 'alice', tty: 'pts/4' });
const bundled = (name: string) => join(BUNDLED_MODULE_DIR, name);

describe('two engines', () => {
  it('share no loaded component, memory pool or park list', async () => {
    const a = createEngine();
    const b = createEngine();
    const path = stackFile('shared.stack', 'session required pam_datatest.wasm value=a\n');
    const s = await StackSession.create(parseStackFile(path, { strictPermissions: false, engine: a }), handle(), { strictPermissions: false, engine: a });
    expect((await s.open()).name).toBe('PAM_SUCCESS');
    expect(a.stats().loadedComponents).toBe(1);
    expect(b.stats()).toMatchObject({ loadedComponents: 0, compiledCores: 0, knownFiles: 0, pooledMemories: 0, memoriesInExistence: 0 });
    // The idle instance is on a's park list only.
    expect(b.parkIdleLines()).toBe(0);
    expect(a.parkIdleLines()).toBe(1);
    expect(a.stats().pooledMemories).toBe(1);
    expect(b.stats().pooledMemories).toBe(0);
    expect((await s.close()).name).toBe('PAM_SUCCESS');
    s.end();
    expect(a.stats()).toMatchObject({ parked: 1, woken: 1 });
    expect(b.stats()).toMatchObject({ parked: 0, woken: 0 });
  });

  it('load the same module each for itself, and a load without an engine keeps nothing', async () => {
    const a = createEngine();
    const b = createEngine();
    const first = await loadComponent(bundled('pam_permit.wasm'), { strictPermissions: false, engine: a });
    expect(await loadComponent(bundled('pam_permit.wasm'), { strictPermissions: false, engine: a })).toBe(first);
    const other = await loadComponent(bundled('pam_permit.wasm'), { strictPermissions: false, engine: b });
    expect(other).not.toBe(first);
    expect(other.sha256).toBe(first.sha256);
    expect(await loadComponent(bundled('pam_permit.wasm'), { strictPermissions: false })).not.toBe(first);
    expect(a.stats()).toMatchObject({ loadBuilds: 1, loadHits: 1 });
  });
});

describe('eviction', () => {
  it('keeps the most recently used entries of a bounded cache', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now the most recent
    cache.set('c', 3);
    expect(cache.has('b')).toBe(false);
    expect([cache.get('a'), cache.get('c'), cache.size]).toEqual([1, 3, 2]);
    expect(cache.counts.evicted).toBe(1);
    expect(() => new LruCache(0)).toThrow(RangeError);
  });

  it('drops the least recently loaded component past maxLoadedComponents, and loads it again when asked', async () => {
    const engine = createEngine({ maxLoadedComponents: 2, maxCompiledCores: 2 });
    const load = (name: string) => loadComponent(bundled(name), { strictPermissions: false, engine });
    const permit = await load('pam_permit.wasm');
    await load('pam_deny.wasm');
    expect(await load('pam_permit.wasm')).toBe(permit); // a hit: permit is the most recent again
    await load('pam_echo.wasm'); // evicts deny
    expect(engine.stats()).toMatchObject({ loadedComponents: 2, loadBuilds: 3, loadHits: 1 });
    expect(engine.stats().compiledCores).toBeLessThanOrEqual(2);
    expect(engine.stats().evicted).toBeGreaterThanOrEqual(1);
    expect(await load('pam_permit.wasm')).toBe(permit);
    const deny = await load('pam_deny.wasm'); // built again
    expect([...deny.exports].sort()).toEqual(['close-session', 'open-session']);
    expect(engine.stats()).toMatchObject({ loadedComponents: 2, loadBuilds: 4 });
  });
});

describe('a prepared stack', () => {
  it('loads its modules once, and each of many sessions gets its own instances', async () => {
    const { engine, stack, prepared } = await prepareIn('prepared.stack', [
      'session required pam_datatest.wasm value=one',
      'session required pam_permit.wasm',
      'session optional pam_echo.wasm hello %u',
    ]);
    expect(await engine.prepare(stack, { strictPermissions: false })).toBe(prepared);
    const built = engine.stats().loadBuilds;
    expect(built).toBe(3);
    const sessions = [];
    for (let i = 0; i < 5; i++) {
      const s = await prepared.session(handle());
      expect((await s.open()).name).toBe('PAM_SUCCESS');
      sessions.push(s);
    }
    // Each open session holds its own instance: pam_datatest's data is its own.
    for (const s of sessions) {
      expect((await s.close()).name).toBe('PAM_SUCCESS');
      expect(s.messages.map((m) => m.text)).toEqual(expect.arrayContaining(['hello alice', expect.stringMatching(/^pointer=one bytes=one replaced=1/)]));
      s.end();
    }
    expect(engine.stats().loadBuilds).toBe(built);
    expect(engine.stats().loadHits).toBeGreaterThanOrEqual(15);
    // StackSession.create goes through the same prepared stack.
    const again = await StackSession.create(stack, handle(), { strictPermissions: false, engine });
    again.end();
    expect(engine.stats().loadBuilds).toBe(built);
    // Other settings are another prepared stack.
    expect(await engine.prepare(stack, { strictPermissions: false, sandbox: { timeoutMs: 500 } })).not.toBe(prepared);
  });

  it('says a missing module in each session made from it, and runs it once it appears', async () => {
    const engine = createEngine();
    const path = stackFile('late.stack', `session optional ${join(dir, 'late.wasm')}\nsession required pam_permit.wasm\n`);
    const stack = parseStackFile(path, { strictPermissions: false, engine });
    const prepared = await engine.prepare(stack, { strictPermissions: false });
    const before = await prepared.session(handle());
    expect(before.diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/late\.wasm does not exist/)]);
    before.end();
    writeFileSync(join(dir, 'late.wasm'), readFileSync(bundled('pam_echo.wasm')));
    const after = await prepared.session(handle());
    expect(after.diagnostics).toEqual([]);
    expect((await after.open()).name).toBe('PAM_SUCCESS');
    after.end();
  });
});

describe('a session of a stack that names one module file on several lines', () => {
  it('loads the file once for all of them, and each line still runs its own instance', async () => {
    const { engine, prepared } = await prepareIn('same-module.stack', [
      'session required pam_datatest.wasm value=first',
      'session required pam_datatest.wasm value=second',
      'session required pam_permit.wasm',
      'session required pam_datatest.wasm value=third',
    ]);
    for (let i = 0; i < 3; i++) {
      const hits = engine.stats().loadHits;
      const s = await prepared.session(handle());
      // Two files, so two loads: not one per line.
      expect(engine.stats().loadHits - hits).toBe(2);
      expect((await s.open()).name).toBe('PAM_SUCCESS');
      expect((await s.close()).name).toBe('PAM_SUCCESS');
      // Pointer data lives in the instance: each line found its own open's.
      expect(s.messages.map((m) => m.text.split(' ')[0])).toEqual(['pointer=first', 'pointer=second', 'pointer=third']);
      s.end();
    }
  });

  it('runs the file as it is when each session starts, on every line that names it', async () => {
    const engine = createEngine();
    const module = join(dir, 'swapped.wasm');
    writeFileSync(module, readFileSync(bundled('pam_permit.wasm')));
    const path = stackFile('swapped.stack', `session required ${module}\nsession optional ${module}\n`);
    const stack = parseStackFile(path, { strictPermissions: false, engine });
    const codes = async () => {
      const s = await StackSession.create(stack, handle(), { strictPermissions: false, engine });
      const r = await s.open();
      s.end();
      return r.trace.map((t) => t.name);
    };
    expect(await codes()).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
    // Replaced by a rename, as an upgrade does.
    writeFileSync(`${module}.new`, readFileSync(bundled('pam_deny.wasm')));
    renameSync(`${module}.new`, module);
    expect(await codes()).toEqual(['PAM_SESSION_ERR', 'PAM_SESSION_ERR']);
  });
});

describe('prepared stacks by settings', () => {
  it('give the same stack for the same plain settings, and another as soon as one differs', async () => {
    const engine = createEngine();
    const path = stackFile('settings.stack', 'session required pam_permit.wasm\n');
    const stack = parseStackFile(path, { strictPermissions: false, engine });
    const a = await engine.prepare(stack, { strictPermissions: false, moduleDir: BUNDLED_MODULE_DIR });
    expect(await engine.prepare(stack, { strictPermissions: false, moduleDir: BUNDLED_MODULE_DIR })).toBe(a);
    const other = await engine.prepare(stack, { strictPermissions: false, moduleDir: dir });
    expect(other).not.toBe(a);
    // pam_permit.wasm is not in `dir`: that stack's sessions say so, a's do not.
    expect((await other.session(handle())).diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/does not exist/)]);
    expect(await engine.prepare(stack, { strictPermissions: false, moduleDir: BUNDLED_MODULE_DIR })).toBe(a);
    expect(await engine.prepare(stack, { strictPermissions: true, moduleDir: BUNDLED_MODULE_DIR })).not.toBe(a);
    // A sandbox object changed in place between two calls is read again.
    const sandbox = { timeoutMs: 500 };
    const b = await engine.prepare(stack, { strictPermissions: false, sandbox });
    sandbox.timeoutMs = 600;
    expect(await engine.prepare(stack, { strictPermissions: false, sandbox })).not.toBe(b);
  });
});

describe('the public index', () => {
  it('exports createEngine and no process-wide knob', () => {
    expect(typeof publicApi.createEngine).toBe('function');
    expect(Object.keys(publicApi)).not.toEqual(expect.arrayContaining(['setMemoryLimit']));
    expect(Object.keys(publicApi)).not.toEqual(expect.arrayContaining(['parkIdleLines']));
  });

  it('takes the memory limit as an engine option, and refuses a bad one', () => {
    expect(() => createEngine({ memoryLimit: 0 })).toThrow(RangeError);
    expect(() => createEngine({ maxLoadedComponents: 1.5 })).toThrow(RangeError);
    expect(createEngine({ memoryLimit: 5 }).stats().memoriesInExistence).toBe(0);
  });
});
