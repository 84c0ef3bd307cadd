/**
 * A stack worker: accepts and serves hooks itself (serve-loop.ts), runs
 * the jobs other threads put in its mailbox (closes of sessions it holds,
 * orphan closes), and keeps the shared block current for the main
 * thread's watchdog: its hard deadline, whether the running job has
 * written to its module, and, in the mailbox's running slot, the job itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PAM } from '../codes/index.js';
import { PendingWriter } from '../sessions/pending.js';
import { Registry } from '../sessions/registry.js';
import { Connection, NO_REPLY } from './conn.js';
import { HookService } from './hooks.js';
import { SessionIds } from './ids.js';
import { EPOLL, PENDING, sharedViews, WROTE, type FromWorker, type WorkerInit } from './jobs.js';
import { stderrLog, syslogLog, type DaemonLog } from './log.js';
import { KIND_HOOK, type MailJob } from './mailbox.js';
import { decodeFrame } from './protocol.js';
import { StackRuns } from './runs.js';
import { ServeLoop } from './serve-loop.js';
import { WriteLock } from './write-lock.js';

const init = workerData as WorkerInit;
const { ctl, deadline, waiting } = sharedViews(init.shared);
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

function makeLog(): DaemonLog {
  if (init.log === 'syslog') return syslogLog();
  if (init.log === 'post') return (priority, text) => post({ t: 'log', priority, text });
  return stderrLog(init.log === 'journal');
}

const log = makeLog();
const ids = new SessionIds(init.token, init.gens);
const registry = new Registry(init.registry, { synchronous: init.synchronous, checkpoints: 'manual' });
const runs = new StackRuns(init, deadline);
const hooks = new HookService(registry, new WriteLock(init.writeLock, init.lockId), runs, log, init.moduleDir ?? null, init.index, pendingWriter());

/**
 * This worker's pending file (sessions/pending.ts), with `--sync normal`;
 * if it cannot be made, the worker commits to the database instead.
 */
function pendingWriter(): PendingWriter | undefined {
  if (init.synchronous !== 'normal') return undefined;
  try {
    return new PendingWriter(init.registry, `${init.token}-${init.gen}`, (fd) => Atomics.store(ctl, PENDING, fd));
  } catch (e) {
    log(3, `worker ${init.index}: no pending file (${(e as Error).message}); committing each session to the registry instead`);
    return undefined;
  }
}

const loop = new ServeLoop({
  index: init.index,
  listenFd: init.listenFd,
  wakeFds: init.wakeFds,
  mailboxes: init.mailboxes,
  allowUids: new Set(init.allowUids),
  requestMs: init.requestMs,
  spinUs: init.spinUs,
  holder: (id) => ids.holder(id),
  findOpen: (f, pid) => hooks.findOpen(f, pid),
  run,
  track: (fd, held) => {
    const i = waiting.indexOf(held ? 0 : fd + 1);
    if (i >= 0) waiting[i] = held ? fd + 1 : 0;
  },
  pendingWrites: () => hooks.pendingMarks > 0,
  idle: () => {
    hooks.flushMarks();
    log.flush?.();
  },
  refused: (why) => log(4, `refused a connection: ${why}`),
});
Atomics.store(ctl, EPOLL, loop.epoll.fd);

async function run(job: MailJob): Promise<void> {
  Atomics.store(ctl, WROTE, 0);
  const frame = job.kind === KIND_HOOK ? job.decoded ?? decodeFrame('to-daemon', job.frame) : undefined;
  // An open's id is chosen now, so that the running slot names it if this worker is lost.
  if (frame?.type === 'hook' && frame.hook === 'open_session') job = { ...job, id: ids.newId(init.gen) };
  loop.box.running(job);
  let conn: Connection | undefined;
  try {
    if (job.kind === KIND_HOOK && frame?.type === 'hook') {
      conn = new Connection(job.fd, init.promptMs, () => Atomics.store(ctl, WROTE, 1));
      let code = PAM.SESSION_ERR.number;
      try {
        code = await hooks.hook(frame, job.id, job.peerPid, conn);
      } finally {
        conn.finish(code);
        // Before the descriptor closes: a module that waits for the end of
        // the stream then finds the hook's log line written.
        log.flush?.();
      }
    } else if (job.kind !== KIND_HOOK) {
      const closed = await hooks.orphan(job.id, job.from, NO_REPLY);
      post({ t: 'orphan-done', ref: job.ref, closed });
    }
  } finally {
    // Cleared before the descriptor closes: a worker lost in between leaks
    // the descriptor rather than leave the main thread a number that may name another connection.
    loop.box.done();
    conn?.release();
  }
}

void loop.serve();
