/**
 * How a stack line names its module together with the sandbox's settings
 * for it, without touching the module's own arguments: the module field may
 * be a bracketed list, `[path option ...]`, read by the same tokenizer that
 * reads `[args with spaces]`. The module's args follow as usual.
 *
 *   session required [pam_motd.wasm sha256=3f1c... timeout=200ms memory=8MiB read=/etc/motd.d] motd=/etc/motd
 *
 * | option             | meaning                                               | default        |
 * | ------------------ | ----------------------------------------------------- | -------------- |
 * | `sha256=HEX`       | pin: refuse to load unless the file has this hash     | not pinned     |
 * | `timeout=N[ms\|s]` | time limit of one hook call and of instantiation, above 0 and at most 1 hour | host's (1 s) |
 * | `memory=N[KiB\|MiB\|GiB]` | cap on the module's linear memory: whole 64 KiB pages, 64 KiB to 4 GiB | host's (64 MiB)|
 * | `tables=N`         | cap on the elements of a core module's tables in all (1 to 1,000,000) | 200,000 |
 * | `read=DIR`         | grant: read-only access to DIR (repeatable)           | none           |
 * | `clocks`           | grant: wall and monotonic clocks                      | none           |
 * | `random`           | grant: random bytes                                   | none           |
 * | `fault=CODE`       | code the line returns when its module faults (never `success`) | `session_err` |
 *
 * A plain module field (`pam_echo.wasm`) means every default: no grants, the
 * host's limits, not pinned.
 *
 * This file is the one validator of these settings: `pamwasm check`, `run`,
 * `exec` and the host API all read a line through `parseModuleSpec`, so
 * whatever one refuses they all refuse (a refused line fails closed as a
 * malformed line, alone). Each setting is one entry of SETTINGS; the bounds
 * of the numeric ones are also what the host API's defaults must meet
 * (`checkSandboxValues`).
 */
import { isAbsolute } from 'node:path';
import { codeByToken, PAM, PAM_CODES } from '../../codes/index.js';
import { BadSettingError } from '../../errors/index.js';
import type { Grants } from './wasi/index.js';

export interface ModuleSpec {
  path: string;
  sha256?: string;
  timeoutMs?: number;
  memoryBytes?: number;
  /** Cap on the elements of all of a core module's tables (host/sandbox/instrument/core-check.ts). */
  tableElements?: number;
  grants: Grants;
  faultCode?: number;
}

/** A WebAssembly page: memory is capped in whole pages. */
export const PAGE_BYTES = 64 * 1024;
/** The most a 32-bit memory can hold: 65536 pages. */
export const MAX_MEMORY_BYTES = 65536 * PAGE_BYTES;
/** The longest time limit a line may set: a hook is a login step, not a job. */
export const MAX_TIMEOUT_MS = 3_600_000;

const UNITS = new Map<string, number>([
  ['', 1], ['b', 1], ['kib', 1024], ['k', 1024], ['mib', 1024 ** 2], ['m', 1024 ** 2], ['gib', 1024 ** 3], ['g', 1024 ** 3],
]);

/** Why `bytes` cannot be a memory cap (as `what`, e.g. `memory=5GiB`), with the fix; undefined when it can. */
export function memoryProblem(bytes: number, what: string): string | undefined {
  if (!Number.isFinite(bytes) || bytes < PAGE_BYTES) return `${what} is below one 64 KiB page: write at least 64KiB (e.g. 16MiB)`;
  if (bytes > MAX_MEMORY_BYTES) return `${what} is above the 4 GiB a module's memory can hold: write at most 4GiB`;
  if (bytes % PAGE_BYTES !== 0) return `${what} is not a whole number of 64 KiB pages: write a multiple of 64KiB (e.g. ${Math.ceil(bytes / PAGE_BYTES) * 64}KiB)`;
  return undefined;
}

/** Why `ms` cannot be a time limit (as `what`), with the fix; undefined when it can. */
export function timeoutProblem(ms: number, what: string): string | undefined {
  if (!Number.isFinite(ms) || ms <= 0) return `${what} is not a time limit above zero: write e.g. 200ms or 2s`;
  if (ms > MAX_TIMEOUT_MS) return `${what} is longer than the 1 hour a hook may take: write at most 3600s`;
  return undefined;
}

/** Why `code` cannot be a line's fault code (as `what`), with the fix; undefined when it can. */
export function faultProblem(code: number, what: string): string | undefined {
  if (!PAM_CODES.some((c) => c.number === code)) return `${what} is not a PAM code: use a name such as session_err or perm_denied`;
  if (code === PAM.SUCCESS.number || code === PAM.IGNORE.number) return `${what} would let a faulting module pass: choose a failure code such as session_err`;
  return undefined;
}

/** One setting a module field may carry: how it is written, and how its value is read. */
interface Setting {
  /** How it is written, for messages: `timeout=<N>ms or <N>s`. */
  form: string;
  /** Takes no value (`clocks`). */
  flag?: boolean;
  /** May be given more than once (`read=`). */
  repeatable?: boolean;
  /** Reads `value` into `spec`; returns why it cannot (what is wrong and the fix), or undefined. */
  read(spec: ModuleSpec, value: string, written: string): string | undefined;
}

/** Every setting, by name. A new setting is one entry here (and one row in the table above and in docs/sandbox.md). */
const SETTINGS = new Map<string, Setting>([
  ['sha256', {
    form: 'sha256=<64 hex digits>',
    read(spec, value, written) {
      if (!/^[0-9a-f]{64}$/i.test(value)) return `${written} is not 64 hex digits: copy the hash that pamwasm inspect prints`;
      spec.sha256 = value.toLowerCase();
      return undefined;
    },
  }],
  ['timeout', {
    form: 'timeout=<N>ms or <N>s',
    read(spec, value, written) {
      const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value);
      if (!m) return `${written} is not a duration: write e.g. 200ms or 2s`;
      const ms = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
      spec.timeoutMs = ms;
      return timeoutProblem(ms, written);
    },
  }],
  ['memory', {
    form: 'memory=<N>KiB, MiB or GiB',
    read(spec, value, written) {
      const m = /^(\d+)([a-z]*)$/i.exec(value);
      const unit = m ? UNITS.get(m[2].toLowerCase()) : undefined;
      if (!m || unit === undefined) return `${written} is not a size: write e.g. 512KiB or 16MiB`;
      const bytes = Number(m[1]) * unit;
      spec.memoryBytes = bytes;
      return memoryProblem(bytes, written);
    },
  }],
  ['tables', {
    form: 'tables=<N> table elements',
    read(spec, value, written) {
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1_000_000) {
        return `${written} is not a number of table elements from 1 to 1000000: write e.g. tables=10000`;
      }
      spec.tableElements = Number(value);
      return undefined;
    },
  }],
  ['read', {
    form: 'read=<absolute directory>',
    repeatable: true,
    read(spec, value, written) {
      if (!isAbsolute(value)) return `${written} is not an absolute directory: write read=/path/to/dir`;
      (spec.grants.read ??= []).push(value);
      return undefined;
    },
  }],
  ['clocks', { form: 'clocks', flag: true, read: (spec) => void (spec.grants.clocks = true) }],
  ['random', { form: 'random', flag: true, read: (spec) => void (spec.grants.random = true) }],
  ['fault', {
    form: 'fault=<code name such as session_err>',
    read(spec, value, written) {
      const code = codeByToken(value);
      if (!code) return `${written} is not a PAM code name: use e.g. session_err or perm_denied`;
      spec.faultCode = code.number;
      return faultProblem(code.number, written);
    },
  }],
]);

/**
 * Parses a module field; throws BadSettingError whose message says what is
 * wrong and how to fix it (the parser adds file:line).
 *
 * @example
 *   parseModuleSpec('pam_motd.wasm timeout=200ms memory=8MiB').memoryBytes // 8388608
 */
export function parseModuleSpec(field: string): ModuleSpec {
  const [path, ...options] = field.trim().split(/\s+/);
  if (!path) throw new BadSettingError('empty module field: expected a .wasm path');
  const spec: ModuleSpec = { path, grants: {} };
  const seen = new Set<string>();
  for (const option of options) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? undefined : option.slice(eq + 1);
    const setting = SETTINGS.get(key);
    if (!setting) {
      throw new BadSettingError(`unknown module option "${key}": expected ${[...SETTINGS.values()].map((s) => s.form.replace(/=.*/, '=')).join(', ')}`);
    }
    if (setting.flag && value !== undefined) throw new BadSettingError(`module option ${key} takes no value: write ${key} alone`);
    if (!setting.flag && !value) throw new BadSettingError(`module option ${key} needs a value: write ${setting.form}`);
    if (seen.has(key) && !setting.repeatable) throw new BadSettingError(`module option ${key} is given twice: keep one`);
    seen.add(key);
    const why = setting.read(spec, value ?? '', option);
    if (why) throw new BadSettingError(why);
  }
  return spec;
}

/**
 * The host API's sandbox defaults (`SandboxDefaults`) by the same bounds as
 * a line's settings; a timeout of 0 turns metering off there. Throws
 * BadSettingError.
 */
export function checkSandboxValues(v: { timeoutMs?: number; memoryBytes?: number; faultCode?: number }): void {
  const why =
    (v.timeoutMs === undefined || v.timeoutMs === 0 ? undefined : timeoutProblem(v.timeoutMs, `sandbox.timeoutMs ${v.timeoutMs}`)) ??
    (v.memoryBytes === undefined ? undefined : memoryProblem(v.memoryBytes, `sandbox.memoryBytes ${v.memoryBytes}`)) ??
    (v.faultCode === undefined ? undefined : faultProblem(v.faultCode, `sandbox.faultCode ${v.faultCode}`));
  if (why) throw new BadSettingError(why);
}
