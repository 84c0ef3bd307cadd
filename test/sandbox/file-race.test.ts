/**
 * Root's rule judges the file that is read (host/sandbox/policy/perms.ts): the
 * open descriptor's owner and mode, the folders where it lives, and that
 * the path still leads to it. The race tests run as root (as the host does
 * under pam_exec): a user (uid 65534) swaps a path in a sticky,
 * world-writable folder, in a loop, between their own file and a symlink to
 * root's, while the host loads and runs that path again and again. The
 * user's file must never run; root's may run or be refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi, beforeEach } from 'vitest';
import { readModuleFile } from '../../host/loader/files.js';
import { createEngine } from '../../host/engine/index.js';
import { loadComponent } from '../../host/loader/index.js';
import { readCheckedFile } from '../../host/sandbox/index.js';
import { parseStackFile, runStack } from '../../host/stack/index.js';
import { packageRoot } from '../../host/wit/index.js';

/** Each test's own engine: what one test keeps (parses, known files, verdicts) no other sees. */
let engine = createEngine();
beforeEach(() => { engine = createEngine(); });

const USER = 65534;
const DIST = join(packageRoot(), 'guest-modules', 'dist');
const isRoot = process.getuid?.() === 0;
const realNow = Date.now;

const top = mkdtempSync(join(tmpdir(), 'pamwasm-race-'));
chmodSync(top, 0o755); // the user's process must reach its folder
afterAll(() => rmSync(top, { recursive: true, force: true }));
let swappers: ChildProcess[] = [];
afterEach(() => {
  for (const s of swappers) s.kill('SIGKILL');
  swappers = [];
});

let n = 0;
/** A fresh layout: `root/` (root's, 755) and `sticky/` (root's, 1777), both under the test's folder. */
function layout() {
  const base = join(top, `case-${n++}`);
  const root = join(base, 'root');
  const sticky = join(base, 'sticky');
  mkdirSync(root, { recursive: true, mode: 0o755 });
  mkdirSync(sticky, { mode: 0o755 });
  chmodSync(base, 0o755);
  chmodSync(sticky, 0o1777);
  return { base, root, sticky };
}

/** A copy of `from` at `to`, owned by the user. */
function userCopy(from: string, to: string): string {
  copyFileSync(from, to);
  chmodSync(to, 0o644);
  chownSync(to, USER, USER);
  return to;
}

/**
 * Starts a process of the user that, in a tight loop, renames over `target`
 * a symlink to `rootFile`, then a hard link of its own `userFile`.
 */
function startSwapper(target: string, rootFile: string, userFile: string): ChildProcess {
  const code = `
    const fs = require('node:fs');
    const [target, rootFile, userFile] = process.argv.slice(1);
    const s = target + '.s', h = target + '.h';
    for (;;) {
      try { fs.symlinkSync(rootFile, s); fs.renameSync(s, target); } catch {}
      try { fs.linkSync(userFile, h); fs.renameSync(h, target); } catch {}
    }`;
  const child = spawn(process.execPath, ['-e', code, target, rootFile, userFile], { uid: USER, gid: USER, stdio: 'ignore' });
  swappers.push(child);
  return child;
}

/** Runs `attempt` for about `ms` (and at least `min` times); counts its outcomes. */
async function race(ms: number, min: number, attempt: () => Promise<string>): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const end = performance.now() + ms;
  for (let i = 0; i < min || performance.now() < end; i++) {
    const k = await attempt();
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return seen;
}

describe.runIf(isRoot)('a checked read (as root)', () => {
  it('refuses a user\'s file reached through a symlink root made', () => {
    const { root, sticky } = layout();
    const mine = userCopy(join(DIST, 'pam_echo.wasm'), join(sticky, 'mine.wasm'));
    symlinkSync(mine, join(root, 'link.wasm'));
    expect(() => readCheckedFile(join(root, 'link.wasm'), { what: 'module', strict: true })).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_UNSAFE_PERMISSIONS' }));
  });

  it('refuses root\'s file hard-linked into a user\'s folder, judging where the descriptor lives', () => {
    const { root, sticky } = layout();
    const file = join(root, 'permit.wasm');
    copyFileSync(join(DIST, 'pam_permit.wasm'), file);
    const theirs = join(sticky, 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, USER, USER);
    // Judged safe in its own place first: that verdict must not cover its second name.
    expect(readCheckedFile(file, { what: 'module', strict: true }).bytes?.length).toBeGreaterThan(0);
    linkSync(file, join(theirs, 'permit.wasm'));
    expect(() => readCheckedFile(join(theirs, 'permit.wasm'), { what: 'module', strict: true })).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_UNSAFE_PERMISSIONS' }));
    expect(readCheckedFile(file, { what: 'module', strict: true }).bytes?.length).toBeGreaterThan(0);
  });

  it('keeps no verdict for a path once another file is put there', () => {
    const { root, sticky } = layout();
    const path = join(sticky, 'mod.wasm');
    copyFileSync(join(DIST, 'pam_permit.wasm'), join(root, 'permit.wasm'));
    symlinkSync(join(root, 'permit.wasm'), path);
    expect(readCheckedFile(path, { what: 'module', strict: true }).bytes).toBeDefined();
    // Within the verdict's second, the user's file in the same place is judged afresh.
    renameSync(userCopy(join(DIST, 'pam_echo.wasm'), join(sticky, 'mine.wasm')), path);
    expect(() => readCheckedFile(path, { what: 'module', strict: true })).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_UNSAFE_PERMISSIONS' }));
  });

  it('refuses at once a user\'s file put in place of a module or stack file that was judged, known and kept', () => {
    const { root, sticky } = layout();
    copyFileSync(join(DIST, 'pam_permit.wasm'), join(root, 'permit.wasm'));
    writeFileSync(join(root, 'root.stack'), 'session required pam_permit.wasm\n');
    const mod = join(sticky, 'mod.wasm');
    const stack = join(sticky, 'login.stack');
    symlinkSync(join(root, 'permit.wasm'), mod);
    symlinkSync(join(root, 'root.stack'), stack);
    // Files written so far count as settled, so they are known and kept.
    const later = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 10_000);
    try {
      expect(readModuleFile(mod, true, engine).bytes).toBeDefined();
      expect(readModuleFile(mod, true, engine).bytes).toBeUndefined(); // known: judged by a stat, not read
      const kept = parseStackFile(stack, { strictPermissions: true, engine });
      expect(parseStackFile(stack, { strictPermissions: true, engine })).toBe(kept);
      renameSync(userCopy(join(DIST, 'pam_echo.wasm'), join(sticky, 'mine.wasm')), mod);
      writeFileSync(join(sticky, 'mine.stack'), 'session required pam_echo.wasm USER-RAN\n');
      chownSync(join(sticky, 'mine.stack'), USER, USER);
      renameSync(join(sticky, 'mine.stack'), stack);
      expect(() => readModuleFile(mod, true, engine)).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_UNSAFE_PERMISSIONS' }));
      expect(() => parseStackFile(stack, { strictPermissions: true, engine })).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_UNSAFE_PERMISSIONS' }));
    } finally {
      later.mockRestore();
    }
  });

  it('never loads a user\'s module swapped in a loop with a symlink to root\'s', async () => {
    const { root, sticky } = layout();
    copyFileSync(join(DIST, 'pam_permit.wasm'), join(root, 'permit.wasm'));
    const permit = await loadComponent(join(root, 'permit.wasm'));
    const echo = await loadComponent(join(DIST, 'pam_echo.wasm'), { strictPermissions: false });
    const target = join(sticky, 'mod.wasm');
    startSwapper(target, join(root, 'permit.wasm'), userCopy(join(DIST, 'pam_echo.wasm'), join(sticky, 'mine.wasm')));
    const seen = await race(3000, 300, async () => {
      try {
        const m = await loadComponent(target, { strictPermissions: true });
        return m.sha256 === permit.sha256 ? 'root' : m.sha256 === echo.sha256 ? 'user' : 'other';
      } catch (e) {
        return (e as { code?: string }).code ?? String(e);
      }
    });
    expect(seen.get('user')).toBeUndefined();
    expect(seen.get('other')).toBeUndefined();
    // The swap really happened under the loads: the user's file was met and refused.
    expect(seen.get('ERR_PAMWASM_UNSAFE_PERMISSIONS')).toBeGreaterThan(0);
    expect([...seen.keys()].every((k) => ['root', 'ERR_PAMWASM_UNSAFE_PERMISSIONS', 'ERR_PAMWASM_MODULE_NOT_FOUND'].includes(k))).toBe(true);
  }, 30_000);

  it('never runs a user\'s module named by a stack line while the module path is swapped', async () => {
    const { root, sticky } = layout();
    copyFileSync(join(DIST, 'pam_permit.wasm'), join(root, 'permit.wasm'));
    const target = join(sticky, 'mod.wasm');
    const stack = join(root, 'race.stack');
    writeFileSync(stack, `session required ${target} USER-RAN\n`, { mode: 0o644 });
    startSwapper(target, join(root, 'permit.wasm'), userCopy(join(DIST, 'pam_echo.wasm'), join(sticky, 'mine.wasm')));
    const seen = await race(3000, 100, async () => {
      const r = await runStack({ stackFile: stack, items: { service: 'race', user: 'alice' }, phase: 'open', strictPermissions: true });
      if (r.messages.some((m) => m.text.includes('USER-RAN'))) return 'user';
      return r.open!.code === 0 ? 'root' : r.diagnostics.some((d) => /ERR_PAMWASM_UNSAFE|refusing module/.test(d.message)) ? 'refused' : `code ${r.open!.code}`;
    });
    expect(seen.get('user')).toBeUndefined();
    expect(seen.get('refused')).toBeGreaterThan(0);
  }, 30_000);

  it('never parses a user\'s stack file swapped in a loop with a symlink to root\'s', async () => {
    const { root, sticky } = layout();
    const rootStack = join(root, 'root.stack');
    writeFileSync(rootStack, `session required ${join(DIST, 'pam_permit.wasm')}\n`, { mode: 0o644 });
    const userStack = join(sticky, 'mine.stack');
    writeFileSync(userStack, `session required ${join(DIST, 'pam_echo.wasm')} USER-RAN\n`);
    chownSync(userStack, USER, USER);
    const target = join(sticky, 'login.stack');
    startSwapper(target, rootStack, userStack);
    const seen = await race(3000, 300, async () => {
      try {
        const s = parseStackFile(target, { strictPermissions: true, engine });
        return s.handlers.some((h) => h.args.includes('USER-RAN')) ? 'user' : 'root';
      } catch (e) {
        return (e as { code?: string }).code ?? String(e);
      }
    });
    expect(seen.get('user')).toBeUndefined();
    expect(seen.get('ERR_PAMWASM_UNSAFE_PERMISSIONS')).toBeGreaterThan(0);
    expect([...seen.keys()].every((k) => ['root', 'ERR_PAMWASM_UNSAFE_PERMISSIONS', 'ERR_PAMWASM_STACK_NOT_FOUND'].includes(k))).toBe(true);
  }, 30_000);
});
