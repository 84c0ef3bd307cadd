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
 * | `timeout=N[ms\|s]` | time limit of one hook call and of instantiation      | host's (1 s)   |
 * | `memory=N[KiB\|MiB\|GiB]` | cap on the module's linear memory              | host's (64 MiB)|
 * | `tables=N`         | cap on the elements of a core module's tables in all (1 to 1,000,000) | 200,000 |
 * | `read=DIR`         | grant: read-only access to DIR (repeatable)           | none           |
 * | `clocks`           | grant: wall and monotonic clocks                      | none           |
 * | `random`           | grant: random bytes                                   | none           |
 * | `fault=CODE`       | code the line returns when its module faults (never `success`) | `session_err` |
 *
 * A plain module field (`pam_echo.wasm`) means every default: no grants, the
 * host's limits, not pinned.
 */
import { isAbsolute } from 'node:path';
import { codeByToken, PAM } from '../codes/index.js';
import type { Grants } from './wasi/index.js';

export interface ModuleSpec {
  path: string;
  sha256?: string;
  timeoutMs?: number;
  memoryBytes?: number;
  /** Cap on the elements of all of a core module's tables (host/sandbox/core-check.ts). */
  tableElements?: number;
  grants: Grants;
  faultCode?: number;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, k: 1024, mib: 1024 ** 2, m: 1024 ** 2, gib: 1024 ** 3, g: 1024 ** 3 };

/** Parses a module field; throws an Error whose message says what was expected. */
export function parseModuleSpec(field: string): ModuleSpec {
  const [path, ...options] = field.trim().split(/\s+/);
  if (!path) throw new Error('empty module field: expected a .wasm path');
  const spec: ModuleSpec = { path, grants: {} };
  for (const option of options) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? undefined : option.slice(eq + 1);
    const need = (what: string) => {
      if (!value) throw new Error(`module option ${key} needs a value: ${what}`);
      return value;
    };
    switch (key) {
      case 'sha256': {
        const v = need('sha256=<64 hex digits>').toLowerCase();
        if (!/^[0-9a-f]{64}$/.test(v)) throw new Error(`sha256=${value} is not 64 hex digits (pamwasm inspect prints a module's hash)`);
        spec.sha256 = v;
        break;
      }
      case 'timeout': {
        const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(need('timeout=<N>ms or <N>s'));
        if (!m || Number(m[1]) <= 0) throw new Error(`timeout=${value} is not a duration such as 200ms or 2s`);
        spec.timeoutMs = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
        break;
      }
      case 'memory': {
        const m = /^(\d+)([a-z]*)$/i.exec(need('memory=<N>KiB, MiB or GiB'));
        const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
        if (!m || !unit || Number(m[1]) <= 0) throw new Error(`memory=${value} is not a size such as 512KiB or 16MiB`);
        spec.memoryBytes = Number(m[1]) * unit;
        break;
      }
      case 'tables': {
        const v = need('tables=<N> elements');
        if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 1_000_000) throw new Error(`tables=${value} is not a number of table elements from 1 to 1000000`);
        spec.tableElements = Number(v);
        break;
      }
      case 'read': {
        const dir = need('read=<absolute directory>');
        if (!isAbsolute(dir)) throw new Error(`read=${dir} must be an absolute directory`);
        (spec.grants.read ??= []).push(dir);
        break;
      }
      case 'clocks':
      case 'random':
        if (value !== undefined) throw new Error(`module option ${key} takes no value`);
        spec.grants[key] = true;
        break;
      case 'fault': {
        const code = codeByToken(need('fault=<code name such as session_err>'));
        if (!code) throw new Error(`fault=${value} is not a PAM code name (e.g. session_err, perm_denied)`);
        if (code.number === PAM.SUCCESS.number || code.number === PAM.IGNORE.number) {
          throw new Error(`fault=${value} would let a faulting module pass: choose a failure code`);
        }
        spec.faultCode = code.number;
        break;
      }
      default:
        throw new Error(`unknown module option "${key}": expected sha256=, timeout=, memory=, tables=, read=, clocks, random or fault=`);
    }
  }
  return spec;
}
