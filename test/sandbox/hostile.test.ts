/**
 * The hostile corpus (guest-modules/hostile/dist, built by
 * `npm run build:guests`) against the sandbox, each module on a stack line
 * followed by a good one:
 *  - runtime faults (loops, traps, recursion) give the line its fault code
 *    within its time limit plus a margin, with the reason in the trace; the
 *    next line runs, and the next session in this process succeeds;
 *  - floods (messages, syslog, environment) are held by the import limits
 *    and the session completes;
 *  - load-time refusals (WASI, wrong world, broken bytes, pins, unsafe
 *    permissions) dispatch as PAM_MODULE_UNKNOWN and carry the typed error.
 *
 * Timing assertions use a generous margin (MARGIN_MS): CI machines stall.
 * The measured figures are printed at the end.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadComponent } from '../../host/loader/index.js';
import { DEFAULT_IMPORT_LIMITS, hostImports, newHandleState, newLineContext } from '../../host/runtime/index.js';
import type { FaultKind } from '../../host/sandbox/index.js';
import { InstanceMeter, TimeLimitExceeded } from '../../host/sandbox/index.js';
import { BUNDLED_MODULE_DIR, parseStackFile, runStack, StackSession } from '../../host/stack/index.js';
import { GOOD_LINE, hostile, ITEMS, TempStacks } from '../support/hostile.js';
import { nativeSession, PamHelper } from '../support/native.js';

const LIMIT_MS = 200;
const MARGIN_MS = 1500;
const NATIVE_DIR = '/lib/x86_64-linux-gnu/security';
const haveNative = existsSync(join(NATIVE_DIR, 'pam_debug.so'));
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

let stacks: TempStacks;
let dir: string;
let helper: PamHelper | undefined;
const figures: string[] = [];

beforeAll(() => {
  stacks = new TempStacks();
  dir = stacks.dir;
});

afterAll(async () => {
  await helper?.close();
  stacks?.remove();
  console.log(`hostile corpus figures:\n  ${figures.join('\n  ')}`);
});

const run = (text: string) => stacks.run(text);
const stackFile = (text: string) => stacks.file(text);
const expectGoodSession = () => stacks.expectGoodSession();

interface RuntimeCase {
  module: string;
  args?: string;
  /** The hook that faults. */
  hook: 'open' | 'close';
  /** The fault's kind in the trace. */
  kind: FaultKind;
  /** A time-limit case: the hook must last at least the limit. */
  spins?: boolean;
}

const RUNTIME: RuntimeCase[] = [
  { module: 'loop_open', hook: 'open', spins: true, kind: 'timeout' },
  { module: 'loop_close', hook: 'close', spins: true, kind: 'timeout' },
  { module: 'loop_start', hook: 'open', spins: true, kind: 'timeout' },
  { module: 'recursion', hook: 'open', kind: 'stack-overflow' },
  { module: 'recursion', args: 'memory', hook: 'open', kind: 'trap' },
  { module: 'trap', hook: 'open', kind: 'trap' },
  { module: 'trap', args: 'oob', hook: 'open', kind: 'trap' },
  { module: 'trap', args: 'divzero', hook: 'open', kind: 'trap' },
  { module: 'trap', args: 'nullcall', hook: 'open', kind: 'trap' },
];

const label = (c: RuntimeCase) => (c.args ? `${c.module} ${c.args}` : c.module);

describe('a module that faults at run time', () => {
  it.each(RUNTIME.map((c) => [label(c), c] as const))(
    '%s: its line returns the fault code within its limit, the next line runs, and the next session succeeds',
    async (_, c) => {
      const r = await run(`session required [${hostile(c.module)} timeout=${LIMIT_MS}ms] ${c.args ?? ''}\n${GOOD_LINE}\n`);
      const faulting = c.hook === 'open' ? r.open : r.close;
      const ms = c.hook === 'open' ? r.openMs : r.closeMs;
      figures.push(`${label(c).padEnd(18)} ${c.hook}-session faulted after ${ms.toFixed(1)} ms (limit ${LIMIT_MS} ms${c.spins ? `, ${(ms - LIMIT_MS).toFixed(1)} ms over` : ''})`);

      expect(faulting.name).toBe('PAM_SESSION_ERR');
      expect(faulting.trace[0]).toMatchObject({ line: 1, name: 'PAM_SESSION_ERR', fault: { kind: c.kind } });
      expect(ms).toBeLessThan(LIMIT_MS + MARGIN_MS);
      if (c.spins) expect(ms).toBeGreaterThanOrEqual(LIMIT_MS - 1);
      // The instance is gone: the other hook does not run it again.
      if (c.hook === 'open') {
        expect(r.close.name).toBe('PAM_SESSION_ERR');
        expect(r.close.trace[0].fault?.kind).toBe(c.kind);
        expect(r.close.trace[0].reason).toMatch(/^faulted earlier: /);
      } else {
        expect(r.open.name).toBe('PAM_SUCCESS');
      }
      // The reason is logged too, and the next line ran in both hooks.
      expect(r.syslog).toContainEqual(expect.objectContaining({ priority: 'err', message: faulting.trace[0].reason }));
      expect(r.messages).toEqual(expect.arrayContaining(['open_session=success', 'close_session=success']));
      await expectGoodSession();
    },
  );

  /*
   * libpam's frozen chain (pam_dispatch.c, use_cached_chain): close-session
   * takes each line's action from the code it returned in open-session. A
   * line that failed in open is ignored in close too; one that succeeded in
   * open and fails in close (loop_close) is acted on as `ok`, so its failure
   * becomes the stack's result. Where the real libpam and pam_debug.so are
   * here, the same stack with pam_debug.so standing in for the faulting
   * module confirms it.
   */
  it.each(RUNTIME.map((c) => [label(c), c] as const))(
    '%s on an optional line, before a required good one, gives the session libpam gives for an optional line failing so',
    async (_, c) => {
      const r = await run(`session optional [${hostile(c.module)} timeout=${LIMIT_MS}ms] ${c.args ?? ''}\n${GOOD_LINE}\n`);
      const expected = c.hook === 'open' ? ['PAM_SUCCESS', 'PAM_SUCCESS'] : ['PAM_SUCCESS', 'PAM_SESSION_ERR'];
      expect([r.open.name, r.close.name]).toEqual(expected);
      if (haveNative) {
        const codes = c.hook === 'open' ? 'open_session=session_err close_session=session_err' : 'open_session=success close_session=session_err';
        writeFileSync(join(dir, 'svc'), `session optional ${NATIVE_DIR}/pam_debug.so ${codes}\nsession required ${NATIVE_DIR}/pam_debug.so\n`);
        helper ??= await PamHelper.start({ mode: 'in-process' });
        const n = await nativeSession({ service: 'svc', confdir: dir, helper });
        expect([n.open.name, n.close.name]).toEqual(expected);
      }
      const faulting = c.hook === 'open' ? r.open : r.close;
      expect(faulting.trace[0]).toMatchObject({ control: 'optional', name: 'PAM_SESSION_ERR', fault: { kind: c.kind } });
      expect(r.messages).toEqual(expect.arrayContaining(['open_session=success', 'close_session=success']));
    },
  );

  it('fault=perm_denied makes a faulting line return PAM_PERM_DENIED instead', async () => {
    for (const module of ['loop_open', 'trap']) {
      const r = await run(`session required [${hostile(module)} timeout=${LIMIT_MS}ms fault=perm_denied]\n${GOOD_LINE}\n`);
      expect(r.open.name).toBe('PAM_PERM_DENIED');
      expect(r.open.trace[0]).toMatchObject({ name: 'PAM_PERM_DENIED', fault: { kind: module === 'trap' ? 'trap' : 'timeout' } });
      expect(r.close.name).toBe('PAM_PERM_DENIED');
      expect(r.messages).toContain('open_session=success');
    }
    await expectGoodSession();
  });

  it('loop_start spins inside instantiate(), before any hook, and the time limit stops it there', async () => {
    const loaded = await loadComponent(hostile('loop_start'), { meter: { maxMemoryPages: 1024 } });
    const meter = new InstanceMeter();
    const ctx = newLineContext({ module: 'loop_start', handle: newHandleState(ITEMS) });
    // Read before arming, so a pause of this thread in between cannot make the stop look early.
    const t = performance.now();
    meter.arm(100);
    let error: unknown;
    try {
      loaded.instantiate(hostImports(ctx), meter.instantiateCore);
    } catch (e) {
      error = meter.explain(e);
    }
    const ms = performance.now() - t;
    expect(error).toBeInstanceOf(TimeLimitExceeded);
    figures.push(`${'loop_start'.padEnd(18)} instantiate() stopped after ${ms.toFixed(1)} ms (limit 100 ms)`);
    expect(ms).toBeGreaterThanOrEqual(99);
    expect(ms).toBeLessThan(100 + MARGIN_MS);
  });
});

describe('a memory bomb', () => {
  const bomb = async (memory: string, capMiB: number) => {
    const before = process.resourceUsage().maxRSS;
    const r = await run(`session required [${[hostile('memory_bomb'), memory].filter(Boolean).join(' ')}]\n${GOOD_LINE}\n`);
    const peak = process.resourceUsage().maxRSS;
    // Held: either it fails cleanly with its own code, or it faults (out of memory in the glue).
    expect(['PAM_BUF_ERR', 'PAM_SESSION_ERR']).toContain(r.open.name);
    const report = r.messages.find((m) => m.startsWith('memory_bomb: '));
    const got = /got (\d+) MiB, memory is (\d+) MiB/.exec(report ?? '');
    expect(got, `memory_bomb's report: ${report}`).not.toBeNull();
    expect(Number(got![2])).toBeLessThanOrEqual(capMiB);
    expect(r.messages).toEqual(expect.arrayContaining(['open_session=success', 'close_session=success']));
    figures.push(`memory_bomb ${memory || '(default)'}: ${report!.slice('memory_bomb: '.length)}; open ${r.open.name}, close ${r.close.name}; ` +
      `process peak RSS ${(peak / 1024).toFixed(0)} MiB (was ${(before / 1024).toFixed(0)} MiB)`);
    await expectGoodSession();
  };

  it('is held to memory=16MiB, and the process goes on', () => bomb('memory=16MiB', 16));

  it('is held to the default 64 MiB without a memory= option', () => bomb('', 64));
});

describe('floods are held by the import limits and the session completes', () => {
  const L = DEFAULT_IMPORT_LIMITS;

  it('huge_message: no message over the size limit, no more than the per-call count', async () => {
    const r = await run(`session required [${hostile('huge_message')} timeout=10s]\n${GOOD_LINE}\n`);
    expect([r.open.name, r.close.name]).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
    const own = r.messages.filter((m) => !m.startsWith('open_session=') && !m.startsWith('close_session='));
    // The two 16 MB messages and the prompt were refused; they count against the per-call budget.
    expect(own.length).toBeLessThanOrEqual(L.messagesPerCall);
    expect(own.length).toBeGreaterThan(0);
    expect(Math.max(...r.messages.map((m) => Buffer.byteLength(m)))).toBeLessThanOrEqual(L.messageBytes);
    expect(r.messages.slice(-2)).toEqual(['open_session=success', 'close_session=success']);
    expect(r.syslog.length).toBeLessThanOrEqual(L.syslogPerCall + 1);
    figures.push(`huge_message: open took ${r.openMs.toFixed(0)} ms; ${own.length} of its messages shown, none over ${L.messageBytes} bytes`);
    await expectGoodSession();
  });

  it('syslog_flood: a 1 MB line is cut, and lines past the per-call limit are dropped', async () => {
    const r = await run(`session required [${hostile('syslog_flood')} timeout=10s] count=100000\n${GOOD_LINE}\n`);
    expect([r.open.name, r.close.name]).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
    const own = r.syslog.filter((l) => l.module.includes('syslog_flood'));
    expect(own.length).toBeLessThanOrEqual(L.syslogPerCall + 1); // + one "dropped" notice, if the host adds it
    expect(own.length).toBeGreaterThanOrEqual(L.syslogPerCall);
    expect(Buffer.byteLength(own[0].message)).toBeLessThanOrEqual(L.syslogBytes + 3);
    expect(own[0].message).toMatch(/^L+\.\.\.$/);
    expect(r.messages).toEqual(['open_session=success', 'close_session=success']);
    figures.push(`syslog_flood count=100000: open took ${r.openMs.toFixed(0)} ms (${((r.openMs * 1000) / 100001).toFixed(1)} us a call); ${own.length} lines logged`);
    await expectGoodSession();
  });

  // A million host calls (the module's default) take about 0.5 s with jco
  // 1.11.2's glue, within the default limit: ten million do not.
  it('syslog_flood: ten million lines run into the default time limit and fail closed', async () => {
    const r = await run(`session required ${hostile('syslog_flood')} count=10000000\n${GOOD_LINE}\n`);
    expect(r.open.name).toBe('PAM_SESSION_ERR');
    expect(r.open.trace[0].fault?.kind).toBe('timeout');
    expect(r.openMs).toBeLessThan(1000 + MARGIN_MS);
    expect(r.syslog.filter((l) => l.module.includes('syslog_flood')).length).toBeLessThanOrEqual(L.syslogPerCall + 2);
    figures.push(`syslog_flood (1e7 lines, default 1 s limit): open-session stopped after ${r.openMs.toFixed(1)} ms`);
    await expectGoodSession();
  });

  it('env_flood: the PAM environment stops at its entry and byte limits', async () => {
    const r = await run(`session required [${hostile('env_flood')} timeout=10s]\n${GOOD_LINE}\n`);
    expect([r.open.name, r.close.name]).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
    expect(r.env.size).toBeLessThanOrEqual(L.envEntries);
    let bytes = 0;
    for (const [k, v] of r.env) bytes += Buffer.byteLength(k) + Buffer.byteLength(v) + 1;
    expect(bytes).toBeLessThanOrEqual(L.envBytes);
    expect(r.env.has('FLOOD_BIG')).toBe(false);
    expect(r.messages[0]).toBe(`env_flood: ${r.env.size} of 100001 set`);
    expect(r.messages.slice(1)).toEqual(['open_session=success', 'close_session=success']);
    figures.push(`env_flood: open took ${r.openMs.toFixed(0)} ms; ${r.messages[0]}, ${bytes} bytes`);
    await expectGoodSession();
  });
});

describe('a module refused at load', () => {
  const REFUSED = [
    // Without a grant, only the interfaces that give no capability (wasi:cli, wasi:io) would be let through.
    { module: 'wasi_fs', code: 'ERR_PAMWASM_FORBIDDEN_IMPORT', message: /imports .*wasi:filesystem\/preopens, wasi:filesystem\/types, .*outside the session-module world/ },
    { module: 'wasi_sockets', code: 'ERR_PAMWASM_FORBIDDEN_IMPORT', message: /imports wasi:sockets\/instance-network, wasi:sockets\/network, outside the session-module world/ },
    { module: 'wrong_world', code: 'ERR_PAMWASM_WRONG_WORLD', message: /exports open-session with the wrong type/ },
    { module: 'truncated', code: 'ERR_PAMWASM_MALFORMED_WASM', message: /is not a valid component/ },
    { module: 'random', code: 'ERR_PAMWASM_MALFORMED_WASM', message: /is not a WebAssembly binary/ },
  ];

  it.each(REFUSED.map((c) => [c.module, c] as const))(
    '%s: the loader rejects it with a typed error; its line dispatches as PAM_MODULE_UNKNOWN with that message',
    async (_, c) => {
      const err = await loadComponent(hostile(c.module)).then(() => undefined, (e: unknown) => e as { code: string; message: string; imports?: string[] });
      expect(err?.code).toBe(c.code);
      expect(err?.message).toMatch(c.message);
      if (c.code === 'ERR_PAMWASM_FORBIDDEN_IMPORT') expect(err?.imports?.every((i) => i.startsWith('wasi:'))).toBe(true);

      const r = await run(`session required ${hostile(c.module)}\n${GOOD_LINE}\n`);
      expect([r.open.name, r.close.name]).toEqual(['PAM_MODULE_UNKNOWN', 'PAM_MODULE_UNKNOWN']);
      expect(r.open.trace[0]).toMatchObject({ name: 'PAM_MODULE_UNKNOWN', reason: expect.stringMatching(c.message) });
      expect(r.diagnostics).toEqual([expect.stringMatching(new RegExp(`^1: .*${c.message.source}`))]);
      expect(r.messages).toEqual(['open_session=success', 'close_session=success']);

      const optional = await run(`session optional ${hostile(c.module)}\n${GOOD_LINE}\n`);
      expect([optional.open.name, optional.close.name]).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
      await expectGoodSession();
    },
  );

  it('wasi_fs loads with a read= grant, reads inside it and is refused outside it', async () => {
    const granted = join(dir, 'granted');
    mkdirSync(granted, { recursive: true });
    writeFileSync(join(granted, 'motd'), 'hello from the grant\n');
    const inside = await run(`session required [${hostile('wasi_fs')} read=${granted}] ${join(granted, 'motd')}\n`);
    expect(inside.open.name).toBe('PAM_SUCCESS');
    expect(inside.messages).toEqual(['hello from the grant']);
    const outside = await run(`session required [${hostile('wasi_fs')} read=${granted}] /etc/shadow\n`);
    expect(outside.open.name).toBe('PAM_SYSTEM_ERR');
    expect(outside.messages).toEqual([expect.stringMatching(/^\/etc\/shadow: /)]);
  });

  it('a sha256= pin that does not match refuses the module with ERR_PAMWASM_PIN_MISMATCH', async () => {
    const module = join(BUNDLED_MODULE_DIR, 'pam_debug.wasm');
    const actual = createHash('sha256').update(readFileSync(module)).digest('hex');
    const wrong = '0'.repeat(64);
    const err = await loadComponent(module, { sha256: wrong }).then(() => undefined, (e: unknown) => e as { code: string });
    expect(err?.code).toBe('ERR_PAMWASM_PIN_MISMATCH');

    const r = await run(`session required [pam_debug.wasm sha256=${wrong}]\nsession required pam_permit.wasm\n`);
    expect(r.open.name).toBe('PAM_MODULE_UNKNOWN');
    expect(r.diagnostics).toEqual([expect.stringMatching(new RegExp(`^1: .*has sha256 ${actual}, but its stack line pins sha256=${wrong}`))]);

    const pinned = await run(`session required [pam_debug.wasm sha256=${actual}]\nsession required pam_permit.wasm\n`);
    expect([pinned.open.name, pinned.close.name]).toEqual(['PAM_SUCCESS', 'PAM_SUCCESS']);
  });

  describe(`files others could change (running as ${asRoot ? 'root' : `uid ${process.getuid?.()}`})`, () => {
    let moduleDir: string;
    beforeAll(() => {
      moduleDir = join(dir, 'modules');
      mkdirSync(moduleDir, { mode: 0o755 });
      copyFileSync(join(BUNDLED_MODULE_DIR, 'pam_permit.wasm'), join(moduleDir, 'pam_permit.wasm'));
    });

    const withMode = (mode: number) => {
      chmodSync(join(moduleDir, 'pam_permit.wasm'), mode);
      return join(moduleDir, 'pam_permit.wasm');
    };

    it('a module writable by others is refused, as root by default and with strictPermissions: true', async () => {
      const module = withMode(0o666);
      const expectRefused = async (strictPermissions?: boolean) => {
        const err = await loadComponent(module, { strictPermissions }).then(() => undefined, (e: unknown) => e as { code: string; message: string });
        expect(err?.code).toBe('ERR_PAMWASM_UNSAFE_PERMISSIONS');
        // The stack file is read leniently here: as another user it is not root's either (tested below).
        const session = await StackSession.create(parseStackFile(stackFile(`session required ${module}\n`), { strictPermissions: false }), newHandleState(ITEMS), { strictPermissions });
        expect((await session.open()).name).toBe('PAM_MODULE_UNKNOWN');
        expect(session.diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/refusing module .*pam_permit\.wasm: .*(writable by others|not root)/)]);
        session.end();
      };
      await expectRefused(true);
      if (asRoot) await expectRefused(undefined);
      else expect((await loadComponent(module)).sha256).toMatch(/^[0-9a-f]{64}$/); // not strict by default as a user
    });

    it('a module only root can change is used; as another user, strictPermissions: true still refuses it (not owned by root)', async () => {
      const module = withMode(0o644);
      const session = await StackSession.create(parseStackFile(stackFile(`session required ${module}\n`), { strictPermissions: false }), newHandleState(ITEMS), { strictPermissions: true });
      const open = await session.open();
      session.end();
      if (asRoot) {
        expect(session.diagnostics).toEqual([]);
        expect(open.name).toBe('PAM_SUCCESS');
      } else {
        expect(open.name).toBe('PAM_MODULE_UNKNOWN');
        expect(session.diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/is owned by uid \d+, not root/)]);
      }
    });

    it.runIf(asRoot)('a module folder opened to others: another file behind the path is refused at once, the same file within a second', async () => {
      const folder = join(dir, 'opened');
      mkdirSync(folder, { mode: 0o755 });
      const module = join(folder, 'pam_permit.wasm');
      copyFileSync(join(BUNDLED_MODULE_DIR, 'pam_permit.wasm'), module);
      chmodSync(module, 0o644);
      const code = (p: Promise<unknown>) => p.then(() => 'loaded', (e: { code: string }) => e.code);
      expect(await code(loadComponent(module, { strictPermissions: true }))).toBe('loaded');
      chmodSync(folder, 0o777);
      // Someone else could now put a file there: a new inode is judged afresh.
      copyFileSync(join(BUNDLED_MODULE_DIR, 'pam_deny.wasm'), join(folder, 'next'));
      renameSync(join(folder, 'next'), module);
      expect(await code(loadComponent(module, { strictPermissions: true }))).toBe('ERR_PAMWASM_UNSAFE_PERMISSIONS');
      // The same file as before, once its kept verdict is a second old.
      copyFileSync(join(BUNDLED_MODULE_DIR, 'pam_permit.wasm'), join(folder, 'again'));
      chmodSync(folder, 0o755);
      renameSync(join(folder, 'again'), module);
      expect(await code(loadComponent(module, { strictPermissions: true }))).toBe('loaded');
      chmodSync(folder, 0o777);
      await new Promise((r) => setTimeout(r, 1100));
      expect(await code(loadComponent(module, { strictPermissions: true }))).toBe('ERR_PAMWASM_UNSAFE_PERMISSIONS');
    });

    it('a stack file writable by others is refused with ERR_PAMWASM_UNSAFE_PERMISSIONS', async () => {
      const file = stackFile(`${GOOD_LINE}\n`);
      chmodSync(file, 0o666);
      const parse = (strictPermissions?: boolean) => () => parseStackFile(file, { strictPermissions });
      expect(parse(true)).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_UNSAFE_PERMISSIONS', message: expect.stringMatching(/refusing stack file/) }));
      await expect(runStack({ stackFile: file, items: ITEMS, strictPermissions: true })).rejects.toMatchObject({ code: 'ERR_PAMWASM_UNSAFE_PERMISSIONS' });
      if (asRoot) {
        expect(parse()).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_UNSAFE_PERMISSIONS' }));
        await expect(runStack({ stackFile: file, items: ITEMS })).rejects.toMatchObject({ code: 'ERR_PAMWASM_UNSAFE_PERMISSIONS' });
      } else {
        expect(parse()).not.toThrow();
      }
      await expectGoodSession();
    });
  });
});

describe('after the whole corpus', () => {
  it('the process still serves a good session', async () => {
    await expectGoodSession();
    figures.push(`process peak RSS after the corpus: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  });
});
