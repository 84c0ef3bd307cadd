/**
 * A stack as a flow: one node per session handler, and for each node where
 * every PAM code goes, worked out from the same handlers and actions the
 * dispatcher walks (host/stack/dispatch.ts). `pamwasm explain` prints it;
 * the playground page draws it.
 *
 * Where a code goes, as libpam's _pam_dispatch_aux walks:
 *  - ok, ignore, bad and reset go on to the next line (bad marks the stack
 *    failed, reset forgets what came before, but the walk goes on);
 *  - done and die end the current level: the stack, or the substack the
 *    line is in (the walk goes on after it);
 *  - a jump N skips N lines of the line's level, each with any substack
 *    below it; a jump past the end of its level fails the stack.
 */
import { PAM_CODES } from '../codes/index.js';
import { ACTION, actionName } from '../stack/actions.js';
import type { Diagnostic, Handler, Stack } from '../stack/parse.js';

/** Where a step goes: a node's index, or `end` (the end of the stack). */
export type Target = number | 'end';

export interface EdgeRow {
  /** ok, ignore, bad, die, done, reset, jump N. */
  action: string;
  /** The code tokens that take this action; `others` stands for every code not listed in another row. */
  codes: string[];
  others: boolean;
}

export interface FlowEdge {
  target: Target;
  /** The codes that go there, by action, the largest group last (written `others`). */
  rows: EdgeRow[];
  /** A jump that runs past the end of its level: the stack fails. */
  badJump?: boolean;
}

export interface FlowNode {
  index: number;
  file: string;
  line: number;
  kind: Handler['kind'];
  control: string;
  module?: string;
  args: string[];
  /** Sandbox settings of the line, as written (`timeout=200ms`, `read=/etc`, `sha256=…`). */
  settings: string[];
  /** Substack nesting level (0: the stack itself). */
  level: number;
  /** The index of the substack node this line is inside, if any. */
  parent?: number;
  /** The module is not a WebAssembly component (a pam.d file's `pam_unix.so`): walked with what-ifs only. */
  native: boolean;
  edges: FlowEdge[];
  diagnostics: Diagnostic[];
}

export interface FlowModel {
  file: string;
  nodes: FlowNode[];
  /** Diagnostics that name no session line (other types, the file as a whole). */
  diagnostics: Diagnostic[];
  /** Set when libpam would refuse the whole file. */
  fatal?: Diagnostic;
  /** Lines of other module types in the file, counted (drawn only as a note). */
  otherTypes: number;
}

/** A module that pamwasm does not run: anything but a `.wasm` component. */
export const isNativeModule = (module: string | undefined): boolean => module !== undefined && !module.endsWith('.wasm');

/** The index after `i` and every line nested deeper than `level` below it. */
function endOfLevel(handlers: readonly Handler[], i: number, level: number): number {
  let d = i;
  while (d + 1 < handlers.length && handlers[d + 1].level >= level) d++;
  return d + 1;
}

/** Where a jump of `n` from line `i` lands, as dispatch.ts walks it; undefined when it runs off its level. */
function jumpTarget(handlers: readonly Handler[], i: number, n: number): number | undefined {
  const level = handlers[i].level;
  let depth = i;
  let jump = n;
  while (depth + 1 < handlers.length && handlers[depth + 1].level >= level && jump > 0) {
    do depth++;
    while (depth + 1 < handlers.length && handlers[depth + 1].level > level);
    jump--;
  }
  return jump ? undefined : depth + 1;
}

const asTarget = (handlers: readonly Handler[], i: number): Target => (i >= handlers.length ? 'end' : i);

function settingsOf(h: Handler): string[] {
  const s = h.spec;
  if (!s) return [];
  const out: string[] = [];
  if (s.timeoutMs !== undefined) out.push(`timeout=${s.timeoutMs}ms`);
  if (s.memoryBytes !== undefined) out.push(`memory=${s.memoryBytes / 1024}KiB`);
  if (s.faultCode !== undefined) out.push(`fault=${PAM_CODES[s.faultCode]?.token ?? s.faultCode}`);
  for (const dir of s.grants.read ?? []) out.push(`read=${dir}`);
  for (const g of ['clocks', 'random'] as const) if (s.grants[g]) out.push(g);
  if (s.sha256) out.push(`sha256=${s.sha256.slice(0, 12)}…`);
  return out;
}

/** Each action's codes for one line, grouped by where they lead. */
function edgesOf(handlers: readonly Handler[], i: number): FlowEdge[] {
  const h = handlers[i];
  const byAction = new Map<number, string[]>();
  for (const c of PAM_CODES) {
    const a = h.kind === 'must-fail' ? ACTION.BAD : h.actions[c.number];
    byAction.set(a, [...(byAction.get(a) ?? []), c.token]);
  }
  // The largest group is written `others`, as a bracket control's `default`.
  const largest = [...byAction.entries()].sort((a, b) => b[1].length - a[1].length)[0][0];
  const edges = new Map<string, FlowEdge>();
  for (const [action, codes] of byAction) {
    let target: Target;
    let badJump = false;
    if (action === ACTION.DONE || action === ACTION.DIE) {
      target = asTarget(handlers, endOfLevel(handlers, i, h.level));
    } else if (action > 0) {
      const t = jumpTarget(handlers, i, action);
      badJump = t === undefined;
      target = asTarget(handlers, t ?? handlers.length);
    } else {
      target = asTarget(handlers, i + 1);
    }
    const key = `${target}:${badJump}`;
    const edge = edges.get(key) ?? { target, rows: [], ...(badJump ? { badJump } : {}) };
    edge.rows.push({ action: actionName(action), codes: action === largest ? [] : codes, others: action === largest });
    edges.set(key, edge);
  }
  for (const e of edges.values()) e.rows.sort((a, b) => Number(a.others) - Number(b.others));
  return [...edges.values()];
}

/** The flow of a parsed stack (session lines only, includes inlined). */
export function flowModel(stack: Stack, extra: readonly Diagnostic[] = []): FlowModel {
  const handlers = stack.handlers;
  const parents: number[] = [];
  const all = [...stack.diagnostics, ...extra];
  const placed = new Set<Diagnostic>();
  const nodes = handlers.map((h, index): FlowNode => {
    parents.length = h.level;
    const parent = h.level > 0 ? parents[h.level - 1] : undefined;
    if (h.kind === 'substack') parents[h.level] = index;
    const diagnostics = all.filter((d) => d.file === h.file && d.line === h.line);
    for (const d of diagnostics) placed.add(d);
    return {
      index, file: h.file, line: h.line, kind: h.kind, control: h.control,
      ...(h.module !== undefined ? { module: h.module } : {}),
      args: [...h.args], settings: settingsOf(h), level: h.level,
      ...(parent !== undefined ? { parent } : {}),
      native: h.kind === 'module' && isNativeModule(h.module),
      edges: h.kind === 'substack' ? [] : edgesOf(handlers, index),
      diagnostics,
    };
  });
  return {
    file: stack.file, nodes,
    diagnostics: all.filter((d) => !placed.has(d)),
    ...(stack.fatal ? { fatal: stack.fatal } : {}),
    otherTypes: stack.lines.filter((l) => l.type !== 'session').length,
  };
}

/** One phrase for where an edge goes, e.g. `line 4 (first.stack:6)` or `the end`. */
export function describeTarget(model: FlowModel, t: Target): string {
  if (t === 'end') return 'the end of the stack';
  const n = model.nodes[t];
  return `${n.file.split('/').pop()}:${n.line}`;
}
