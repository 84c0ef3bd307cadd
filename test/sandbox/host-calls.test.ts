/**
 * Host calls cost what they read: a string or list argument is bounded by
 * its import's limit before it is read, its bytes must lie inside the
 * guest's memory, the clock is read on every host call, a fault raised in a
 * host call cannot be caught by the guest, and the time the application
 * spends answering a prompt does not count against the module.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { craftComponent } from '../../host/build/crafted.js';
import { loadComponent } from '../../host/loader/index.js';
import { createHost } from '../../host/sessions/index.js';
import { hostImports, newHandleState, newLineContext, type LogRecord } from '../../host/runtime/index.js';
import { type Fault } from '../../host/sandbox/index.js';
import { InstanceMeter } from '../../host/sandbox/index.js';
import { BUNDLED_MODULE_DIR, parseStackFile, StackSession } from '../../host/stack/index.js';
import { WIT_VERSION } from '../../host/wit/index.js';
import { hostile, ITEMS, openOn, peakRssSince, TempStacks } from '../support/hostile.js';

const LIMIT_MS = 100;
/** Generous, for two shared cores: the figures printed show the real overrun. */
const MARGIN_MS = 400;
const GIB = 1024 * 1024 * 1024;

/** host_call_flood's variants: the import it floods, by argument count. */
const FLOODS = ['syslog', 'info', 'error', 'prompt', 'put-env', 'get-env', 'set-data value', 'set-data name', 'get-data', 'delete-data'];
/** outside_memory's variants, by argument count. */
const OUTSIDE = ['syslog of 4 GiB', 'syslog past 4 GiB', 'info across the end', 'set-data one byte past', 'put-env of 2 GiB at 2 GiB', 'get-env across the end'];

const figures: string[] = [];
afterAll(() => console.log(`host calls (limit ${LIMIT_MS} ms):\n  ${figures.join('\n  ')}`));

describe.each(['fast', 'jco'] as const)('on the %s path', (path) => {
  it.each(FLOODS.map((name, argc) => [name, argc] as const))('a loop calling %s with a 62 MiB argument stops at its time limit, a timeout', async (name, argc) => {
    const r = await openOn(path, 'host_call_flood', argc);
    figures.push(`${path} host_call_flood ${name}: ${r.fault?.kind} after ${r.ms.toFixed(1)} ms`);
    expect(r.status).toBeUndefined();
    expect(r.fault?.kind).toBe('timeout');
    expect(r.ms).toBeLessThan(LIMIT_MS + MARGIN_MS);
    // Over the limit, nothing is shown or kept; syslog lines are cut as before.
    expect(r.shown).toBe(0);
    expect(r.data).toBe(0);
    if (name === 'syslog') {
      expect(r.log.length).toBeGreaterThan(0);
      for (const line of r.log) expect(line.message).toBe(`${'\0'.repeat(1024)}...`);
    }
  });

  it.each(OUTSIDE.map((name, argc) => [name, argc] as const))('an argument outside the guest memory (%s) is a limit fault', async (_name, argc) => {
    const r = await openOn(path, 'outside_memory', argc);
    expect(r.status).toBeUndefined();
    expect(r.fault?.kind).toBe('limit');
    expect(r.ms).toBeLessThan(MARGIN_MS);
  });

  it('a guest that catches a limit fault and retries the host call forever still stops, with that fault', async () => {
    const r = await openOn(path, 'catch_host_fault', 0);
    figures.push(`${path} catch_host_fault retry: ${r.fault?.kind} after ${r.ms.toFixed(1)} ms`);
    expect(r.fault?.kind).toBe('limit');
    expect(r.ms).toBeLessThan(MARGIN_MS);
  });

  it('a guest that catches the timeout of a host call and retries still stops at its time limit', async () => {
    const r = await openOn(path, 'catch_host_fault', 1);
    figures.push(`${path} catch_host_fault timeout retry: ${r.fault?.kind} after ${r.ms.toFixed(1)} ms`);
    expect(r.fault?.kind).toBe('timeout');
    expect(r.ms).toBeLessThan(LIMIT_MS + MARGIN_MS);
  });

  it('a guest that catches a limit fault and returns success fails with that fault', async () => {
    const r = await openOn(path, 'catch_host_fault', 2);
    expect(r.status).toBeUndefined();
    expect(r.fault?.kind).toBe('limit');
  });
});

/**
 * A module whose open-session asks the host for `ask`, and whose
 * cabi_realloc, run by the host while it lowers the answer, calls `call` (a
 * host import) before it allocates (only then: the host also runs it to
 * lower open-session's arguments).
 */
const reentrant = (imports: string, call: string, ask: string) => `(module
  ${imports}
  (memory (export "memory") 1)
  (data (i32.const 200) "X=1")
  (global $heap (mut i32) (i32.const 4096))
  (global $asked (mut i32) (i32.const 0))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (if (global.get $asked) (then ${call}))
    (global.get $heap)
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get 3) (i32.const 8)))))
  (func (export "open-session") (param i32 i32 i32) (result i32) (global.set $asked (i32.const 1)) ${ask} (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))`;
const ENV_IMPORTS = `(import "pamwasm:session/env@${WIT_VERSION}" "list-env" (func $list (param i32)))
  (import "pamwasm:session/env@${WIT_VERSION}" "put-env" (func $put (param i32 i32) (result i32)))`;
const REENTRANT = {
  'put-env from the realloc of list-env': reentrant(ENV_IMPORTS, '(drop (call $put (i32.const 200) (i32.const 3)))', '(call $list (i32.const 64))'),
  'list-env from the realloc of list-env, recursively': reentrant(ENV_IMPORTS, '(call $list (i32.const 64))', '(call $list (i32.const 64))'),
  'syslog from the realloc of get-item': reentrant(`(import "pamwasm:session/items@${WIT_VERSION}" "get-item" (func $item (param i32 i32)))
  (import "pamwasm:session/log@${WIT_VERSION}" "syslog" (func $syslog (param i32 i32 i32)))`, '(call $syslog (i32.const 3) (i32.const 200) (i32.const 3))', '(call $item (i32.const 1) (i32.const 64))'),
};

describe.each(['fast', 'jco'] as const)('a host call made while the host lowers a result into the guest, on the %s path', (path) => {
  it.each(Object.entries(REENTRANT))('(%s) is a trap: host code is not re-entered', async (label, wat) => {
    const handle = newHandleState(ITEMS);
    handle.env.set('A', '1');
    const r = await openOn(path, await craftComponent(wat, {}, label), 0, LIMIT_MS, handle);
    figures.push(`${path} re-entrant ${label}: ${r.fault?.kind} after ${r.ms.toFixed(1)} ms`);
    expect(r.status).toBeUndefined();
    expect(r.fault?.kind).toBe('trap');
    expect(r.fault?.message).toMatch(/from inside a host call/);
    expect(r.ms).toBeLessThan(MARGIN_MS);
    // Neither the inner call nor anything after it ran.
    expect([...handle.env]).toEqual([['A', '1']]);
    expect(r.log).toEqual([]);
  });
});

/**
 * A module that calls `call` (a host import) from guest code the host runs
 * around open-session rather than inside it: its realloc, while the host
 * lowers open-session's arguments (`where: 'realloc'`), or its post-return.
 */
const outsideHook = (where: 'realloc' | 'post-return', call: string) => `(module
  ${ENV_IMPORTS}
  (import "pamwasm:session/log@${WIT_VERSION}" "syslog" (func $syslog (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 200) "X=1")
  (global $heap (mut i32) (i32.const 4096))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    ${where === 'realloc' ? call : ''}
    (global.get $heap)
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get 3) (i32.const 8)))))
  (func (export "open-session") (param i32 i32 i32) (result i32) (i32.const 0))
  ${where === 'post-return' ? `(func (export "cabi_post_open-session") (param i32) ${call})` : ''}
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))`;
const PUT = '(drop (call $put (i32.const 200) (i32.const 3)))';
const SYSLOG = '(call $syslog (i32.const 3) (i32.const 200) (i32.const 3))';
const OUTSIDE_HOOK = {
  'put-env from the realloc that lowers the arguments': outsideHook('realloc', PUT),
  'syslog from the realloc that lowers the arguments': outsideHook('realloc', SYSLOG),
  'put-env from the post-return': outsideHook('post-return', PUT),
  'syslog from the post-return': outsideHook('post-return', SYSLOG),
};

describe.each(['fast', 'jco'] as const)('a host call made by guest code that runs around a hook, not in it, on the %s path', (path) => {
  it.each(Object.entries(OUTSIDE_HOOK))('(%s) is a trap, and the hook fails closed', async (label, wat) => {
    const handle = newHandleState(ITEMS);
    handle.env.set('A', '1');
    const r = await openOn(path, await craftComponent(wat, {}, label), 2, LIMIT_MS, handle);
    figures.push(`${path} outside the hook, ${label}: ${r.fault?.kind} after ${r.ms.toFixed(1)} ms`);
    expect(r.status).toBeUndefined();
    expect(r.fault?.kind).toBe('trap');
    expect(r.fault?.message).toMatch(/outside its hook/);
    expect([...handle.env]).toEqual([['A', '1']]);
    expect(r.log).toEqual([]);
  });

  it('the same calls from the hook itself are served', async () => {
    const wat = outsideHook('realloc', '').replace('(func (export "open-session") (param i32 i32 i32) (result i32) (i32.const 0))',
      `(func (export "open-session") (param i32 i32 i32) (result i32) ${PUT} ${SYSLOG} (i32.const 0))`);
    const handle = newHandleState(ITEMS);
    const r = await openOn(path, await craftComponent(wat, {}, 'in the hook'), 2, LIMIT_MS, handle);
    expect(r.fault).toBeUndefined();
    expect(r.status).toBe('success');
    expect(handle.env.get('X')).toBe('1');
    expect(r.log).toHaveLength(1);
  });
});

describe('hostile host-call lines in a session', () => {
  const stacks = new TempStacks();
  afterAll(() => stacks.remove());
  let rssBefore = 0;
  beforeAll(() => { rssBefore = process.resourceUsage().maxRSS; });

  const lines: [string, string, Fault['kind']][] = [
    ['host_call_flood', '', 'timeout'],
    ['host_call_flood a b c d', 'put-env', 'timeout'],
    ['host_call_flood a b c d e f', 'set-data', 'timeout'],
    ['outside_memory', '', 'limit'],
    ['catch_host_fault', '', 'limit'],
    ['catch_host_fault a', '', 'timeout'],
    ['catch_host_fault a b', '', 'limit'],
  ];

  it.each(lines)('%s fails its line closed with its fault kind; optional before pam_permit, the session opens', async (spec, _what, kind) => {
    const [module, ...args] = spec.split(' ');
    const required = await stacks.run(`session required [${hostile(module)} timeout=${LIMIT_MS}ms] ${args.join(' ')}\nsession required pam_permit.wasm\n`);
    expect(required.open.name).toBe('PAM_SESSION_ERR');
    expect(required.open.trace[0].fault?.kind).toBe(kind);
    expect(required.openMs).toBeLessThan(LIMIT_MS + MARGIN_MS);
    figures.push(`session ${spec}: ${kind} after ${required.openMs.toFixed(1)} ms`);
    const optional = await stacks.run(`session optional [${hostile(module)} timeout=${LIMIT_MS}ms] ${args.join(' ')}\nsession required pam_permit.wasm\n`);
    expect(optional.open.name).toBe('PAM_SUCCESS');
    expect(optional.open.trace[0].fault?.kind).toBe(kind);
  });

  it('the host survives the corpus: a good session still succeeds, and peak RSS stays under 1 GiB', async () => {
    await stacks.expectGoodSession();
    const peak = peakRssSince(rssBefore);
    figures.push(`peak RSS: ${(peak / 1024 / 1024).toFixed(0)} MiB`);
    expect(peak).toBeLessThan(GIB);
  });
});

/**
 * A module that prompts, shows the answer with pam_info and returns
 * success; with any argument it then loops forever.
 */
const PROMPTS = `(module
  (import "pamwasm:session/conversation@0.1.0" "prompt" (func $prompt (param i32 i32 i32 i32)))
  (import "pamwasm:session/conversation@0.1.0" "info" (func $info (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "Password: ")
  (global $heap (mut i32) (i32.const 4096))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (global.get $heap)
    (global.set $heap (i32.add (global.get $heap) (local.get 3))))
  (func (export "open-session") (param i32 i32 i32) (result i32)
    (call $prompt (i32.const 1) (i32.const 16) (i32.const 10) (i32.const 64))
    (if (i32.load8_u (i32.const 64)) (then (return (i32.const 14))))
    (drop (call $info (i32.load (i32.const 68)) (i32.load (i32.const 72))))
    (if (local.get 2) (then (loop $spin (br $spin))))
    (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))`;

describe('the time limit while the application answers a prompt', () => {
  const ANSWER_MS = 3 * LIMIT_MS;
  let dir: string;
  let module: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pamwasm-prompt-'));
    module = join(dir, 'prompts.wasm');
    writeFileSync(module, await craftComponent(PROMPTS));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A person who takes ANSWER_MS to type the answer (the module waits, blocked in the call). */
  const slowPerson = {
    prompt: () => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ANSWER_MS);
      return 'hunter2';
    },
  };

  async function open(args: string) {
    const file = join(dir, 'stack');
    writeFileSync(file, `session required [${module} timeout=${LIMIT_MS}ms] ${args}\nsession required pam_permit.wasm\n`);
    const session = await StackSession.create(parseStackFile(file), newHandleState(ITEMS), { conversation: slowPerson });
    try {
      const t = performance.now();
      const r = await session.open();
      return { r, ms: performance.now() - t, shown: session.messages.map((m) => m.text) };
    } finally {
      session.end();
    }
  }

  it('does not count: an answer that takes longer than the line\'s timeout reaches the module, which succeeds', async () => {
    const { r, ms, shown } = await open('');
    figures.push(`prompt answered in ${ANSWER_MS} ms under timeout=${LIMIT_MS}ms: ${r.name} after ${ms.toFixed(1)} ms`);
    expect(r.name).toBe('PAM_SUCCESS');
    expect(r.trace[0].fault).toBeUndefined();
    expect(shown).toEqual(['hunter2']);
    expect(ms).toBeGreaterThanOrEqual(ANSWER_MS - 5);
  });

  it('does not count through the host API either: its application answers after the timeout and the session opens', async () => {
    const file = join(dir, 'api-stack');
    writeFileSync(file, `session required [${module} timeout=${LIMIT_MS}ms]\nsession required pam_permit.wasm\n`);
    const host = await createHost({ registry: ':memory:' });
    const s = await host.openSession({
      stack: file, service: 'login', user: 'alice',
      conversation: (ms) => ms.map((m) => (m.style.startsWith('prompt') ? slowPerson.prompt() : null)),
    });
    try {
      expect(s.name).toBe('PAM_SUCCESS');
      expect(s.opened).toBe(true);
      expect(s.messages.map((m) => m.text)).toEqual(['hunter2']);
    } finally {
      await s.close();
    }
  });

  it('counts again after the answer: a module that loops after it stops at its limit past the answer', async () => {
    const { r, ms } = await open('spin');
    figures.push(`prompt then a loop: ${r.trace[0].fault?.kind} after ${ms.toFixed(1)} ms (answer ${ANSWER_MS} + limit ${LIMIT_MS})`);
    expect(r.name).toBe('PAM_SESSION_ERR');
    expect(r.trace[0].fault?.kind).toBe('timeout');
    expect(ms).toBeGreaterThanOrEqual(ANSWER_MS + LIMIT_MS - 5);
    expect(ms).toBeLessThan(ANSWER_MS + LIMIT_MS + MARGIN_MS);
  });
});

describe.each(['fast', 'jco'] as const)('host functions on the %s path', (path) => {
  it('are made only for the interfaces a module imports, under its name with and without the version, and serve it', async () => {
    const load = (name: string) => loadComponent(join(BUNDLED_MODULE_DIR, name), { fastPath: path === 'fast', strictPermissions: false, meter: { maxMemoryPages: 1024, importMemory: true } });
    const ctx = newLineContext({ module: 'pam_echo.wasm', handle: newHandleState(ITEMS) });
    const permit = await load('pam_permit.wasm');
    expect(permit.imports).toEqual([]);
    expect(hostImports(ctx, permit.imports)).toEqual({});
    const meter = new InstanceMeter();
    meter.arm(LIMIT_MS);
    expect(permit.instantiate(hostImports(ctx, permit.imports), meter.instantiateCore).openSession({ silent: false }, [])).toBe('success');
    meter.release();
    const echo = await load('pam_echo.wasm');
    const host = hostImports(ctx, echo.imports);
    expect(Object.keys(host).sort()).toEqual(echo.imports.flatMap((i) => [i, `${i}@${WIT_VERSION}`]).sort());
    expect(echo.imports).not.toContain('pamwasm:session/data');
    meter.arm(LIMIT_MS);
    const instance = echo.instantiate(host, meter.instantiateCore);
    meter.arm(LIMIT_MS);
    expect(instance.openSession({ silent: false }, ['hello', '%u'])).toBe('success');
    expect(ctx.messages).toEqual([{ style: 'info', text: `hello ${ITEMS.user}` }]);
    meter.release();
  });
});
