/**
 * Compare with libpam: when every module line of a stack is a bundled module
 * with a native twin, the same stack runs through the real libpam
 * (pam_start_confdir on a temporary config dir, the native `.so` twins) and
 * through pamwasm, and the two are compared: open and close codes and every
 * message, in order. Otherwise it says why the stack cannot be compared.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { openPamHandle, PamHelper } from '../libpam/index.js';
import type { WitItem } from '../runtime/index.js';
import type { Stack } from '../stack/parse.js';
import { BUNDLED_MODULE_DIR, resolveModulePath, type WhatIf } from '../stack/session.js';
import { playgroundRun } from './run.js';

/** Bundled modules whose native Linux-PAM module behaves the same. */
export const NATIVE_TWINS = ['pam_permit', 'pam_deny', 'pam_debug', 'pam_echo', 'pam_warn'] as const;

export interface Outcome {
  open: string;
  close: string;
  messages: string[];
}

export type Comparison =
  | { comparable: false; why: string }
  | { comparable: true; agree: boolean; pamwasm: Outcome; libpam: Outcome; difference?: string };

/** Why `stack` cannot run through libpam as it runs in pamwasm, or undefined when it can. */
export function whyNotComparable(stack: Stack, o: { service?: string; whatIf?: ReadonlyMap<number, WhatIf>; moduleDir?: string }): string | undefined {
  if (o.whatIf?.size) return 'what-if results have no libpam counterpart: clear them to compare.';
  if (!o.service || !/^[A-Za-z0-9._-]+$/.test(o.service)) return 'the service must be a plain name (letters, digits, . _ -): libpam reads it as a file name.';
  for (const h of stack.handlers) {
    if (h.kind !== 'module' || !h.spec) continue;
    const name = basename(h.spec.path, '.wasm');
    const twin = (NATIVE_TWINS as readonly string[]).includes(name);
    if (!twin || resolveModulePath(h.spec.path, o.moduleDir) !== join(BUNDLED_MODULE_DIR, `${name}.wasm`)) {
      return `${basename(h.file)}:${h.line}: ${h.module} is not a bundled module with a native twin (${NATIVE_TWINS.join(', ')}).`;
    }
    const settings = h.spec.timeoutMs ?? h.spec.memoryBytes ?? h.spec.faultCode ?? h.spec.sha256;
    if (settings !== undefined || Object.keys(h.spec.grants).some((g) => (h.spec!.grants as Record<string, unknown>)[g])) {
      return `${basename(h.file)}:${h.line}: sandbox settings have no libpam counterpart.`;
    }
  }
  return undefined;
}

/**
 * Writes the stack for libpam into `confdir`: the service file and each file
 * it includes, `.wasm` twins named as their `.so`, include and substack
 * targets rewritten to the copies (as absolute paths: Linux-PAM 1.5.2 looks
 * for a relative one in /etc/pam.d even with pam_start_confdir).
 */
function writeNativeStack(stack: Stack, text: string, confdir: string, service: string): void {
  const files = [...new Set([stack.file, ...stack.lines.map((l) => l.file)])];
  const copy = new Map(files.map((f, i) => [f, i === 0 ? join(confdir, service) : join(confdir, `included-${i}`)]));
  const base = dirname(stack.file);
  for (const file of files) {
    const physical = (file === stack.file ? text : readFileSync(file, 'utf8')).split('\n');
    for (const l of stack.lines) {
      if (l.file !== file || !l.module || !(l.type === '@include' || /^(include|substack)$/i.test(l.control ?? ''))) continue;
      const target = isAbsolute(l.module) ? l.module : join(base, l.module);
      const to = copy.get(target) ?? join(confdir, 'missing', basename(target));
      physical[l.line - 1] = physical[l.line - 1].replace(l.module, to);
    }
    const native = physical.join('\n').replace(/(?<=^|[\s/])(pam_(?:permit|deny|debug|echo|warn))\.wasm\b/gm, '$1.so');
    // Module tokens were bundled names: drop any directory, libpam finds the twin in its own.
    writeFileSync(copy.get(file)!, native.replace(/\S*\/(pam_(?:permit|deny|debug|echo|warn)\.so)\b/g, '$1'));
  }
}

/** The first place two outcomes differ, in one phrase. */
function firstDifference(a: Outcome, b: Outcome): string | undefined {
  if (a.open !== b.open) return `open-session: pamwasm ${a.open}, libpam ${b.open}`;
  for (let i = 0; i < Math.max(a.messages.length, b.messages.length); i++) {
    if (a.messages[i] !== b.messages[i]) return `message ${i + 1}: pamwasm ${JSON.stringify(a.messages[i] ?? null)}, libpam ${JSON.stringify(b.messages[i] ?? null)}`;
  }
  if (a.close !== b.close) return `close-session: pamwasm ${a.close}, libpam ${b.close}`;
  return undefined;
}

/** Owns the libpam helper the comparisons share (started at the first one). */
export class LibpamComparer {
  private helper?: Promise<PamHelper>;

  async compare(stack: Stack, text: string, o: { items: Partial<Record<WitItem, string>>; silent?: boolean; whatIf?: ReadonlyMap<number, WhatIf>; moduleDir?: string }): Promise<Comparison> {
    const why = whyNotComparable(stack, { service: o.items.service, whatIf: o.whatIf, moduleDir: o.moduleDir });
    if (why) return { comparable: false, why };
    const fmt = (m: { style: string; text: string }) => `${m.style}: ${m.text}`;
    const w = await playgroundRun({ stack, items: o.items, silent: o.silent, moduleDir: o.moduleDir, strictPermissions: false });
    const pamwasm = { open: w.open!.name, close: w.close!.name, messages: w.messages.map(fmt) };
    const confdir = mkdtempSync(join(tmpdir(), 'pamwasm-playground-'));
    try {
      writeNativeStack(stack, text, confdir, o.items.service!);
      this.helper ??= PamHelper.start({ mode: 'helper' });
      const messages: string[] = [];
      const { service, user, tty, rhost, ruser } = o.items;
      const items = Object.fromEntries(Object.entries({ tty, rhost, ruser }).filter(([, v]) => v !== undefined));
      const h = await openPamHandle({
        service: service!, user: user ?? null, confdir, helper: await this.helper, items,
        conversation: async (ms) => {
          for (const m of ms) messages.push(fmt(m));
          return ms.map(() => null);
        },
      });
      let libpam: Outcome;
      try {
        const open = await h.openSession({ silent: o.silent, throwOnError: false });
        const close = await h.closeSession({ silent: o.silent, throwOnError: false });
        libpam = { open: open.name, close: close.name, messages };
      } finally {
        await h.end();
      }
      const difference = firstDifference(pamwasm, libpam);
      return { comparable: true, agree: difference === undefined, pamwasm, libpam, ...(difference ? { difference } : {}) };
    } finally {
      rmSync(confdir, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    const h = await this.helper?.catch(() => undefined);
    this.helper = undefined;
    await h?.close();
  }
}
