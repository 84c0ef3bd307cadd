/**
 * A stack worker: runs open and close hooks of the sessions the pool gives
 * it, one hook at a time, and keeps each open session's instances until its
 * close, so module memory lives from open to close as in a libpam handle.
 * Before each hook it writes its hard deadline where the watchdog reads it;
 * a worker past it is terminated, and its sessions are closed later from
 * the registry (see pool.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { namedCode, PAM } from '../codes/index.js';
import { newHandleState, type Conversation, type HandleState, type PromptStyle } from '../runtime/index.js';
import { closeWasmStack } from '../sessions/wasm-close.js';
import { createEngine } from '../engine/index.js';
import { SANDBOX_DEFAULTS, StackSession, type Stack, type TraceEntry } from '../stack/index.js';
import { ANSWER_GIVEN, ANSWER_NONE, PRIORITY, RUNNING, sharedViews, type Done, type FromWorker, type Job, type WorkerInit } from './jobs.js';

const init = workerData as WorkerInit;
const { ctl, deadline, answer } = sharedViews(init.shared);
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage([m]);
/** This worker's engine: its sessions share its compiled modules, kept parses and memory pool. */
const engine = createEngine(init.engine);
const sessions = new Map<string, StackSession>();
const decoder = new TextDecoder();
let promptSeq = 0;

/** Instances holding at least this much linear memory are parked between open and close. */
const PARK_FROM_BYTES = 1 << 20;

/** The hard deadline of one hook: every line's limit, twice (instantiation and call), plus the margin. */
function hardLimitMs(stack: Stack): number {
  const fallback = init.sandbox?.timeoutMs ?? SANDBOX_DEFAULTS.timeoutMs;
  let total = init.marginMs;
  for (const h of stack.handlers) {
    if (h.kind !== 'module') continue;
    const limit = h.spec?.timeoutMs ?? fallback;
    total += 2 * (limit > 0 ? limit : init.unmeteredMs);
  }
  return total;
}

/** Asks the person through the main thread and the module's connection; blocks this worker only. */
function ask(rid: number, style: PromptStyle, text: string): string | undefined {
  const seq = ++promptSeq;
  Atomics.store(ctl, 3, seq);
  Atomics.store(ctl, 0, ANSWER_NONE);
  // The person's time is not the module's: the watchdog waits too.
  const saved = deadline[0];
  deadline[0] = Infinity;
  const started = Date.now();
  post({ t: 'prompt', rid, seq, style, text });
  const waited = Atomics.wait(ctl, 0, ANSWER_NONE, init.promptMs);
  deadline[0] = saved + (Date.now() - started);
  if (waited === 'timed-out' || Atomics.load(ctl, 0) !== ANSWER_GIVEN || ctl[1] !== PAM.SUCCESS.number) return undefined;
  return decoder.decode(answer.slice(0, ctl[2]));
}

/**
 * The hook running now: a session's instances keep the conversation and log
 * they were made with at open, so these go to whichever hook runs (one at a time).
 */
let current = 0;

const conversation: Conversation = {
  info: (text) => post({ t: 'message', rid: current, style: 'info', text }),
  error: (text) => post({ t: 'message', rid: current, style: 'error', text }),
  prompt: (style, text) => ask(current, style, text),
};

const log = (r: { priority: string; module: string; message: string }) =>
  post({ t: 'syslog', rid: current, priority: PRIORITY[r.priority] ?? PRIORITY.notice, text: `${r.module}: ${r.message.trimEnd()}` });

/** pam_putenv entries that turn `before` into `after`. */
function envChanges(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  const puts: string[] = [];
  for (const [k, v] of after) if (before.get(k) !== v) puts.push(`${k}=${v}`);
  for (const k of before.keys()) if (!after.has(k)) puts.push(k);
  return puts;
}

const faultsOf = (trace: TraceEntry[]) => trace.filter((t) => t.reason).map((t) => `${t.file}:${t.line} ${t.module}: ${t.reason}`);

/** Takes the application's items and environment as they are at this hook. */
function refresh(handle: HandleState, job: Job): void {
  Object.assign(handle.items, job.items);
  handle.env.clear();
  for (const [k, v] of Object.entries(job.env)) handle.env.set(k, v);
}

async function open(job: Job & { t: 'open' }): Promise<Done> {
  const rid = job.rid!;
  deadline[0] = Date.now() + init.loadMs;
  const stack = engine.parseStackFile(job.stack, { strictPermissions: true });
  const handle = newHandleState(job.items, job.env);
  const session = await StackSession.create(stack, handle, {
    moduleDir: init.moduleDir, sandbox: init.sandbox, strictPermissions: true, log, conversation, engine,
  });
  deadline[0] = Date.now() + hardLimitMs(stack);
  const before = new Map(handle.env);
  const r = await session.open({ silent: job.silent });
  deadline[0] = 0;
  const ok = r.code === PAM.SUCCESS.number;
  if (ok) {
    sessions.set(job.id, session);
    // An open session is idle until its close, maybe for days: instances
    // with large memories (a JS module's engine, megabytes) are parked,
    // keeping only the pages their open changed; small ones (C modules,
    // kilobytes) stay live, as making them again would cost more than they hold.
    session.park(PARK_FROM_BYTES);
  } else session.end();
  const diagnostics = [...stack.diagnostics, ...session.diagnostics].map((d) => `${d.file}:${d.line}: ${d.message}`);
  return {
    t: 'done', rid, code: r.code, puts: envChanges(before, handle.env), env: Object.fromEntries(handle.env),
    snapshot: session.snapshot(), stackSha256: stack.sha256, faults: [...diagnostics, ...faultsOf(r.trace)],
  };
}

async function close(job: Job & { t: 'close' }): Promise<Done> {
  const rid = job.rid!;
  const session = sessions.get(job.id);
  if (!session) return { t: 'done', rid, code: PAM.SESSION_ERR.number, puts: [], faults: [], problem: `session ${job.id} is not held by this worker` };
  sessions.delete(job.id);
  refresh(session.handle, job);
  const before = new Map(session.handle.env);
  deadline[0] = Date.now() + hardLimitMs(session.stack);
  try {
    const r = await session.close({ silent: job.silent });
    return { t: 'done', rid, code: r.code, puts: envChanges(before, session.handle.env), faults: faultsOf(r.trace) };
  } finally {
    deadline[0] = 0;
    session.end();
  }
}

async function closeRecord(job: Job & { t: 'close-record' }): Promise<Done> {
  const rid = job.rid!;
  const before = new Map(Object.entries(job.env));
  deadline[0] = Date.now() + init.loadMs + init.marginMs;
  const w = await closeWasmStack(
    { ...job.record, moduleDir: job.record.moduleDir ?? init.moduleDir, items: job.items, env: job.env },
    { sandbox: init.sandbox, strictPermissions: true, engine, log, onMessage: (m) => post({ t: 'message', rid, style: m.style as 'info' | 'error', text: m.text }) },
  );
  deadline[0] = 0;
  return { t: 'done', rid, code: w.wasm.code, puts: envChanges(before, new Map(Object.entries(w.env))), faults: faultsOf(w.trace), ...(w.problem ? { problem: w.problem } : {}) };
}

async function run(job: Job): Promise<Done> {
  current = job.rid!;
  // For the pool: a job lost with this worker before it started can run elsewhere.
  Atomics.store(ctl, RUNNING, current);
  try {
    if (job.t === 'open') return await open(job);
    if (job.t === 'close') return await close(job);
    return await closeRecord(job);
  } catch (e) {
    // A stack that cannot be read or is unsafe, a module refused: the hook fails closed.
    deadline[0] = 0;
    return { t: 'done', rid: job.rid!, code: namedCode(PAM.SESSION_ERR.number).code, puts: [], faults: [], problem: (e as Error).message };
  } finally {
    Atomics.store(ctl, RUNNING, 0);
  }
}

// One hook at a time: the deadline and the prompt block belong to it.
let chain: Promise<unknown> = Promise.resolve();
port.on('message', (jobs: Job[]) => {
  for (const job of jobs) chain = chain.then(async () => post(await run(job)));
});
post({ t: 'ready' });
