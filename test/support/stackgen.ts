/**
 * Random pam.d session stacks for differential tests: the same stack text is
 * written twice, once naming native modules (`pam_debug.so`) for libpam and
 * once naming the bundled components (`pam_debug.wasm`) for pamwasm.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PAM_CODES } from '../../host/codes/index.js';

/** mulberry32: small, seedable, good enough to pick stacks. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof rng>;

// Codes weighted towards the ones whose actions differ in the keyword controls.
const COMMON = ['success', 'success', 'success', 'ignore', 'ignore', 'session_err', 'perm_denied', 'new_authtok_reqd', 'abort', 'system_err'];
const ALL = PAM_CODES.map((c) => c.token);
const ACTIONS = ['ignore', 'ok', 'done', 'bad', 'die', 'reset', '1', '2', '3'];
const KEYWORDS = ['required', 'requisite', 'sufficient', 'optional'];

function code(r: Rng): string {
  // INCOMPLETE makes libpam save the walk; keep it rare so most stacks run through.
  if (r.chance(0.01)) return 'incomplete';
  return r.chance(0.8) ? r.pick(COMMON) : r.pick(ALL.filter((t) => t !== 'incomplete'));
}

function control(r: Rng): string {
  if (r.chance(0.55)) return r.pick(KEYWORDS);
  const n = 1 + r.int(4);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`${r.chance(0.2) ? 'default' : code(r)}=${r.pick(ACTIONS)}`);
  return `[${parts.join(' ')}]`;
}

function moduleLine(r: Rng, ext: string): string {
  const kind = r.next();
  // A module that does not exist: libpam dispatches it as PAM_MODULE_UNKNOWN.
  if (kind < 0.02) return `pam_missing${ext}`;
  if (kind < 0.7) {
    const args: string[] = [];
    if (r.chance(0.85)) args.push(`open_session=${code(r)}`);
    if (r.chance(0.85)) args.push(`close_session=${code(r)}`);
    if (r.chance(0.5)) args.reverse();
    return `pam_debug${ext} ${args.join(' ')}`.trimEnd();
  }
  return kind < 0.85 ? `pam_permit${ext}` : `pam_deny${ext}`;
}

export interface GeneratedStack {
  /**
   * File name -> lines, with `@EXT@` where the module extension goes and
   * `@DIR@` for the stack's directory: includes name absolute paths, because
   * Linux-PAM 1.5.2 looks for a relative include in /etc/pam.d even when
   * pam_start_confdir named another directory.
   */
  files: Record<string, string[]>;
  /** The service (main) file name. */
  main: string;
}

/** A stack of 1 to 12 module lines in all (includes and substacks counted). */
export function generateStack(seed: number): GeneratedStack {
  const r = rng(seed);
  const files: Record<string, string[]> = {};
  let budget = 1 + r.int(12);
  let sub = 0;
  const fill = (name: string, depth: number, max: number) => {
    const lines: string[] = [];
    files[name] = lines;
    const count = Math.max(1, Math.min(max, budget));
    for (let i = 0; i < count && budget > 0; i++) {
      if (depth < 2 && budget > 1 && r.chance(0.12)) {
        const child = `sub${++sub}`;
        lines.push(`session ${r.chance(0.5) ? 'include' : 'substack'} @DIR@/${child}`);
        fill(child, depth + 1, 1 + r.int(4));
        continue;
      }
      budget--;
      lines.push(`${r.chance(0.05) ? '-' : ''}session ${control(r)} ${moduleLine(r, '@EXT@')}`);
    }
  };
  fill('svc', 0, 12);
  return { files, main: 'svc' };
}

/** Writes the stack into `dir` with module extension `ext` ('.so' or '.wasm'). */
export function writeStack(stack: GeneratedStack, dir: string, ext: string): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, lines] of Object.entries(stack.files)) {
    writeFileSync(join(dir, name), lines.map((l) => l.replaceAll('@EXT@', ext).replaceAll('@DIR@', dir)).join('\n') + '\n');
  }
  return join(dir, stack.main);
}

export const render = (stack: GeneratedStack, ext = '.so') =>
  Object.entries(stack.files).map(([n, l]) => `== ${n}\n${l.map((x) => x.replaceAll('@EXT@', ext)).join('\n')}`).join('\n');
