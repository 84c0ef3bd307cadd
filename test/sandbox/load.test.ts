/**
 * The sandbox under load: 1,000 sessions, 50 open at a time, on 3-line
 * stacks where one line in ten (across all sessions) is a hostile module on
 * an `optional` line with a 50 ms limit (loops in open, close and start-up,
 * traps, recursion). Every session must open and close with PAM_SUCCESS,
 * every good line must run its open and its close exactly once, and the
 * process must come out of it. Time and peak RSS are printed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newHandleState } from '../../host/runtime/index.js';
import { parseStackFile, StackSession, type Stack } from '../../host/stack/index.js';
import { hostile } from '../support/hostile.js';
import { createEngine, type Engine } from '../../host/engine/index.js';

const SESSIONS = 1000;
const CONCURRENCY = 50;
const LINES = 3;
const HOSTILE_EVERY = 10;
const LIMIT_MS = 50;

/** The hostile lines, in turn. Which hook faults decides what libpam's frozen chain makes of it (see below). */
const HOSTILE = [
  { module: 'loop_open', args: '', faultsIn: 'open' },
  { module: 'trap', args: 'oob', faultsIn: 'open' },
  { module: 'loop_start', args: '', faultsIn: 'open' },
  { module: 'recursion', args: '', faultsIn: 'open' },
  { module: 'trap', args: '', faultsIn: 'open' },
] as const;
// loop_close is left out on purpose: an optional line that succeeds in open
// and fails in close fails the close in libpam too (the frozen chain acts on
// the code open returned), so its sessions would not be good ones.

const GOOD = 'session required pam_debug.wasm open_session=success close_session=success';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'pamwasm-load-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One stack file per layout (where the hostile line is, and which one), parsed once as a server would. */
function stacks(engine: Engine): Map<string, Stack> {
  const out = new Map<string, Stack>();
  const add = (key: string, lines: string[]) => {
    const file = join(dir, `${key}.stack`);
    writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o644 });
    out.set(key, parseStackFile(file, { engine }));
  };
  add('good', [GOOD, GOOD, GOOD]);
  for (const [k, h] of HOSTILE.entries()) {
    for (let at = 0; at < LINES; at++) {
      add(`${k}@${at}`, [0, 1, 2].map((i) => (i === at ? `session optional [${hostile(h.module)} timeout=${LIMIT_MS}ms] ${h.args}` : GOOD)));
    }
  }
  return out;
}

/** Runs `task(i)` for i in [0, n) with at most `limit` running at once. */
async function pool(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

it(`${SESSIONS} sessions, ${CONCURRENCY} at a time, one line in ${HOSTILE_EVERY} hostile: every session succeeds and every good line closes exactly once`, async () => {
  // One engine, as one server's: each module loaded once for every session.
  const engine = createEngine();
  const byLayout = stacks(engine);
  const opened = new Map<number, number>();
  const closed = new Map<number, number>();
  const failures: string[] = [];
  let hostileLines = 0;
  let faults = 0;
  let open = 0;
  let maxOpen = 0;
  const rssBefore = process.resourceUsage().maxRSS;
  const started = performance.now();

  await pool(SESSIONS, CONCURRENCY, async (s) => {
    // Line s*3+l is hostile when it is the 10th, 20th, ... line overall.
    const at = [0, 1, 2].find((l) => (s * LINES + l) % HOSTILE_EVERY === HOSTILE_EVERY - 1);
    const kind = at === undefined ? undefined : Math.floor((s * LINES + at) / HOSTILE_EVERY) % HOSTILE.length;
    const layout = at === undefined ? 'good' : `${kind}@${at}`;
    if (at !== undefined) hostileLines++;
    const session = await StackSession.create(byLayout.get(layout)!, newHandleState({ service: 'login', user: `user${s}`, tty: `pts/${s}` }), { engine });
    try {
      const o = await session.open();
      opened.set(s, (opened.get(s) ?? 0) + 1);
      if (o.name !== 'PAM_SUCCESS') failures.push(`session ${s} (${layout}): open gave ${o.name}`);
      faults += o.trace.filter((t) => t.reason).length;
      maxOpen = Math.max(maxOpen, ++open);
      // Let the other sessions run between this one's open and close, as logins do.
      await new Promise((resolve) => setImmediate(resolve));
      const c = await session.close();
      open--;
      closed.set(s, (closed.get(s) ?? 0) + 1);
      if (c.name !== 'PAM_SUCCESS') failures.push(`session ${s} (${layout}): close gave ${c.name}`);
      // Each good line shows its argument once per hook: count them.
      const goodLines = at === undefined ? LINES : LINES - 1;
      const shown = (text: string) => session.messages.filter((m) => m.text === text).length;
      if (shown('open_session=success') !== goodLines || shown('close_session=success') !== goodLines) {
        failures.push(`session ${s} (${layout}): ${shown('open_session=success')} opens and ${shown('close_session=success')} closes shown, want ${goodLines} each`);
      }
    } finally {
      session.end();
    }
  });

  const seconds = (performance.now() - started) / 1000;
  const peak = process.resourceUsage().maxRSS;
  console.log(
    `load: ${SESSIONS} sessions (${hostileLines} hostile lines, ${faults} faults in open) in ${seconds.toFixed(1)} s, ` +
      `${maxOpen} open at once; process peak RSS ${(peak / 1024).toFixed(0)} MiB (${(rssBefore / 1024).toFixed(0)} MiB before), ` +
      `RSS now ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MiB`,
  );

  expect(failures.slice(0, 10)).toEqual([]);
  expect(hostileLines).toBe(SESSIONS * LINES / HOSTILE_EVERY);
  expect(faults).toBe(hostileLines);
  expect([...opened.values()].every((n) => n === 1) && opened.size === SESSIONS).toBe(true);
  expect([...closed.values()].every((n) => n === 1) && closed.size === SESSIONS).toBe(true);
  expect(maxOpen).toBe(CONCURRENCY);
  expect(seconds).toBeLessThan(60);
}, 120_000);
