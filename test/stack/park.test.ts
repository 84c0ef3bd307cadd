import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../host/engine/index.js';
import { InstanceMeter } from '../../host/sandbox/index.js';
import { buildJsModule, GUEST_MODULES_DIR, JS_CACHE_DIR } from '../../host/build/js.js';
import { loadComponent } from '../../host/loader/index.js';
import { hostImports, newHandleState, newLineContext } from '../../host/runtime/index.js';
import { BUNDLED_MODULE_DIR, parseStackFile, StackSession, type HookResult } from '../../host/stack/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pamwasm-park-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const HOSTILE = join(process.cwd(), 'guest-modules', 'hostile', 'dist');

function stackFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function session(engine: Engine, path: string) {
  return StackSession.create(parseStackFile(path, { strictPermissions: false, engine }), newHandleState({ service: 'park', user: 'alice', tty: 'pts/2' }), { strictPermissions: false, engine });
}

const summary = (r: HookResult) => ({ name: r.name, trace: r.trace.map((t) => [t.module, t.name, t.reason ?? '']) });

/**
 * Open, then (if `park`) set every idle instance aside, then close: what a
 * module sees at close must not depend on whether its instance was parked.
 */
async function openParkClose(engine: Engine, path: string, park: boolean) {
  const s = await session(engine, path);
  const open = await s.open();
  const parked = park ? engine.parkIdleLines() : 0;
  const close = await s.close();
  s.end();
  return { open: summary(open), close: summary(close), messages: s.messages.map((m) => m.text), parked };
}

describe('parking idle instances of open sessions', () => {
  it('gives a module at close exactly what it left at open: pointers, static counters, its stack pointer', async () => {
    const path = stackFile('data.stack', [
      'session required pam_datatest.wasm value=parked-secret',
      'session required pam_stamp.wasm token=t1',
      'session optional pam_permit.wasm',
      '',
    ].join('\n'));
    const engine = createEngine();
    const live = await openParkClose(engine, path, false);
    const parked = await openParkClose(engine, path, true);
    expect(parked.parked).toBe(3);
    expect(engine.stats().parked).toBe(3);
    expect(engine.stats().woken).toBe(3);
    expect(parked).toEqual({ ...live, parked: 3 });
    // pam_datatest's pointer data lives only in its instance: a fresh one would say pointer=(none) replaced=0.
    expect(parked.messages).toEqual(expect.arrayContaining([expect.stringMatching(/^pointer=parked-secret bytes=parked-secret replaced=1 status=/)]));
  });

  it('wakes an instance with every byte of its memory and every global as it was, for a C and the JS module', async () => {
    const js = join(dir, 'pam_setenv.wasm');
    await buildJsModule(join(GUEST_MODULES_DIR, 'pam_setenv'), js, { cacheDir: JS_CACHE_DIR });
    for (const [path, argv] of [
      [join(BUNDLED_MODULE_DIR, 'pam_datatest.wasm'), ['value=exact']],
      [js, ['GREETING=hello %u']],
    ] as const) {
      const loaded = await loadComponent(path, { meter: { maxMemoryPages: 1024, importMemory: true }, strictPermissions: false });
      const line = newLineContext({ module: path, handle: newHandleState({ service: 'park', user: 'alice', tty: 'pts/3' }) });
      const meter = new InstanceMeter();
      let made: WebAssembly.Instance[] = [];
      const core = (m: WebAssembly.Module, i: WebAssembly.Imports) => {
        const inst = meter.instantiateCore(m, i);
        made.push(inst);
        return inst;
      };
      const state = () => made.map((inst) => ({
        memory: inst.exports.memory instanceof WebAssembly.Memory ? Buffer.from(inst.exports.memory.buffer) : undefined,
        globals: Object.entries(inst.exports).filter(([n]) => n.startsWith('pamwasm:global:')).map(([n, g]) => [n, (g as WebAssembly.Global).value]),
      }));
      meter.arm(1000);
      const first = loaded.instantiate(hostImports(line), core);
      expect(meter.parkable, path).toBe(true);
      meter.arm(1000);
      expect(first.openSession({ silent: false }, [...argv]), path).toBe('success');
      const before = state();
      expect(before.some((c) => c.globals.length > 0), `${path} exports its mutable globals`).toBe(true);
      const parked = meter.park();
      // Only the pages the open changed are kept, not the module's image (the JS engine's: megabytes).
      const kept = parked.cores.reduce((n, c) => n + (c.memory?.pages.length ?? 0) * 4096, 0);
      const held = before.reduce((n, c) => n + (c.memory?.length ?? 0), 0);
      expect(kept, `${path}: ${kept} of ${held} bytes kept`).toBeLessThan(held / 4);
      made = [];
      meter.wake(parked);
      meter.arm(1000);
      const again = loaded.instantiate(hostImports(line), core);
      meter.woken();
      const after = state();
      expect(after.length).toBe(before.length);
      after.forEach((c, i) => {
        expect(c.globals, `${path} core ${i} globals`).toEqual(before[i].globals);
        expect(c.memory?.length, `${path} core ${i} memory size`).toBe(before[i].memory?.length);
        if (c.memory) expect(c.memory.equals(before[i].memory!), `${path} core ${i} memory bytes`).toBe(true);
      });
      meter.arm(1000);
      expect(again.closeSession({ silent: false }, []), path).toBe('success');
      meter.release();
    }
  }, 60_000);

  it('parks on demand only the lines of a session whose memory reaches the size asked, and closes them on what their open left', async () => {
    const path = stackFile('mixed.stack', [
      'session required pam_datatest.wasm value=mixed',
      `session required ${join(BUNDLED_MODULE_DIR, 'pam_setenv.wasm')} GREETING=hi`,
      '',
    ].join('\n'));
    const engine = createEngine();
    const s = await session(engine, path);
    expect((await s.open()).name).toBe('PAM_SUCCESS');
    const before = engine.stats();
    expect(s.park(1 << 20)).toBe(1); // the JS module's 9 MB instance, not the C module's 128 KiB one
    expect(s.park(1 << 20)).toBe(0); // parked already
    const close = await s.close();
    s.end();
    expect(close.trace.map((t) => t.name)).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
    expect(engine.stats().woken - before.woken).toBe(1);
    expect(s.messages.at(-1)?.text).toMatch(/^pointer=mixed bytes=mixed replaced=1/);
  }, 60_000);

  it('parks least recently used first, and gives the memories to the pool until the lines are called again', async () => {
    const path = stackFile('lru.stack', 'session required pam_datatest.wasm value=lru\n');
    const engine = createEngine();
    const a = await session(engine, path);
    const b = await session(engine, path);
    await a.open();
    await b.open();
    const pooled = engine.stats().pooledMemories;
    expect(engine.parkIdleLines(1)).toBe(1); // a, used first
    expect(engine.stats().pooledMemories).toBe(pooled + 1);
    expect(engine.parkIdleLines(1)).toBe(1); // then b
    expect(engine.parkIdleLines(1)).toBe(0); // nothing idle is left
    for (const s of [b, a]) {
      expect((await s.close()).name).toBe('PAM_SUCCESS');
      s.end();
    }
    expect(a.messages.at(-1)?.text).toMatch(/^pointer=lru bytes=lru replaced=1/);
    expect(b.messages.at(-1)?.text).toMatch(/^pointer=lru bytes=lru replaced=1/);
  });

  it('keeps the time limit on a woken instance', async () => {
    const path = stackFile('loop.stack', `session optional [${join(HOSTILE, 'loop_close.wasm')} timeout=200]\nsession required pam_permit.wasm\n`);
    const engine = createEngine();
    const s = await session(engine, path);
    expect((await s.open()).name).toBe('PAM_SUCCESS');
    expect(engine.parkIdleLines()).toBe(2);
    const close = await s.close();
    s.end();
    expect(close.trace[0].fault?.kind).toBe('timeout');
  });

  it('never parks an instance with WASI imports, and forgets what an ended session parked', async () => {
    const path = stackFile('wasi.stack', `session optional [${join(HOSTILE, 'wasi_fs.wasm')} read=${dir}]\n`);
    const engine = createEngine();
    const s = await session(engine, path);
    await s.open();
    expect(engine.parkIdleLines()).toBe(0);
    await s.close();
    s.end();

    const data = stackFile('ended.stack', 'session required pam_datatest.wasm\n');
    const t = await session(engine, data);
    await t.open();
    expect(engine.parkIdleLines()).toBe(1);
    t.end();
    expect(engine.parkIdleLines()).toBe(0);
    // A session ended while parked opens afresh.
    expect((await t.open()).name).toBe('PAM_SUCCESS');
    t.end();
  });

  it('lets the collector take sessions their host dropped without end(), idle entries and all', () => {
    const path = stackFile('dropped.stack', MANY);
    const script = `
      import { newHandleState } from ${JSON.stringify(join(process.cwd(), 'dist/host/runtime/index.js'))};
      import { createEngine } from ${JSON.stringify(join(process.cwd(), 'dist/host/engine/index.js'))};
      import { parseStackFile, StackSession } from ${JSON.stringify(join(process.cwd(), 'dist/host/stack/index.js'))};
      const engine = createEngine();
      const memoriesInExistence = () => engine.stats().memoriesInExistence;
      const stack = parseStackFile(${JSON.stringify(path)}, { strictPermissions: false, engine });
      for (let i = 0; i < 200; i++) {
        const s = await StackSession.create(stack, newHandleState({ service: 'park', user: 'u', tty: 'pts/8' }), { strictPermissions: false, engine });
        if ((await s.open()).code !== 0) throw new Error('open failed');
      }
      const before = memoriesInExistence();
      for (let i = 0; i < 10 && memoriesInExistence() > before / 2; i++) {
        globalThis.gc();
        await new Promise((r) => setTimeout(r, 20));
      }
      console.log(JSON.stringify({ before, after: memoriesInExistence() }));
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    const { before, after } = JSON.parse(r.stdout.trim()) as { before: number; after: number };
    expect(before).toBe(600);
    expect(after).toBeLessThan(before / 2);
  }, 90_000);

  it('parks by itself past the sandbox\'s memory limit: 6,000 open 3-line sessions in one process, every close as without parking', () => {
    // A child of its own with node's default flags (the trap handler on:
    // about 13,000 memories fit), so that this worker keeps its address space.
    const path = stackFile('many.stack', MANY);
    const out = manySessions(path, 6000);
    expect(out.bad).toBe(0);
    // 18,000 memories are more than the sandbox keeps (10,000): thousands
    // were parked, and each woke at its close.
    expect(out.parked).toBeGreaterThan(3000);
    expect(out.woken).toBe(out.parked);
  }, 150_000);

  it('parks when V8 refuses a memory, under a limit set too high for the address space (4,500 sessions: 13,500 memories)', () => {
    const path = stackFile('refused.stack', MANY);
    const out = manySessions(path, 4500, 1_000_000);
    expect(out.bad).toBe(0);
    expect(out.parked).toBeGreaterThan(0);
    expect(out.woken).toBe(out.parked);
  }, 150_000);
});

/** The stack of the many-session tests: pam_datatest tells at close whether its instance came back whole. */
const MANY = 'session required pam_datatest.wasm value=many\nsession required pam_permit.wasm\nsession required pam_stamp.wasm token=m\n';

/** Opens `n` sessions of `path` in a child with node's default flags, then closes them all. */
function manySessions(path: string, n: number, memoryLimit?: number): { bad: number; parked: number; woken: number } {
  const script = `
    import { newHandleState } from ${JSON.stringify(join(process.cwd(), 'dist/host/runtime/index.js'))};
    import { createEngine } from ${JSON.stringify(join(process.cwd(), 'dist/host/engine/index.js'))};
    import { parseStackFile, StackSession } from ${JSON.stringify(join(process.cwd(), 'dist/host/stack/index.js'))};
    const engine = createEngine(${memoryLimit ? `{ memoryLimit: ${memoryLimit} }` : ''});
    const stack = parseStackFile(${JSON.stringify(path)}, { strictPermissions: false, engine });
    const sessions = [];
    for (let i = 0; i < ${n}; i++) {
      const s = await StackSession.create(stack, newHandleState({ service: 'park', user: 'u' + i, tty: 'pts/9' }), { strictPermissions: false, engine });
      const r = await s.open();
      if (r.code !== 0) throw new Error('open ' + i + ': ' + r.name + ' ' + r.trace.map((t) => t.reason).join(';'));
      sessions.push(s);
    }
    let bad = 0;
    for (const s of sessions) {
      const r = await s.close();
      if (r.code !== 0 || !s.messages.some((m) => m.text.startsWith('pointer=many bytes=many replaced=1'))) bad++;
      s.end();
    }
    const { parked, woken } = engine.stats();
    console.log(JSON.stringify({ bad, parked, woken }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { bad: number; parked: number; woken: number };
}
