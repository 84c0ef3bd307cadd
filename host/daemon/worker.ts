/**
 * A stack worker: serves the hooks the main thread hands it (each with its
 * connection's descriptor), one at a time, and the orphan closes. It keeps
 * the shared block current for the main thread: the job it runs, the last
 * job it finished, and whether the running job has written to its module.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PAM } from '../codes/index.js';
import { Registry } from '../sessions/registry.js';
import { Connection, NO_REPLY } from './conn.js';
import { HookService } from './hooks.js';
import { DONE, RUNNING, sharedViews, WROTE, type FromWorker, type Job, type WorkerInit } from './jobs.js';
import { stderrLog, syslogLog, type DaemonLog } from './log.js';
import { StackRuns } from './runs.js';
import { WriteLock } from './write-lock.js';

const init = workerData as WorkerInit;
const { ctl, deadline } = sharedViews(init.shared);
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

function makeLog(): DaemonLog {
  if (init.log === 'syslog') return syslogLog();
  if (init.log === 'post') return (priority, text) => post({ t: 'log', priority, text });
  return stderrLog(init.log === 'journal');
}

const log = makeLog();
const registry = new Registry(init.registry, { synchronous: init.synchronous, checkpoints: 'manual' });
const runs = new StackRuns(init, deadline);
const hooks = new HookService(registry, new WriteLock(init.writeLock, init.lockId), runs, log, init.moduleDir ?? null, init.index);

async function run(job: Job): Promise<void> {
  Atomics.store(ctl, WROTE, 0);
  // From here the job's descriptor is this worker's: the main thread leaves it alone.
  Atomics.store(ctl, RUNNING, job.seq);
  let conn: Connection | undefined;
  try {
    if (job.t === 'hook') {
      conn = new Connection(job.fd, init.promptMs, () => Atomics.store(ctl, WROTE, 1));
      let code = PAM.SESSION_ERR.number;
      try {
        code = await hooks.hook(job.frame, job.id, job.peerPid, conn);
      } finally {
        conn.finish(code);
        // Before the descriptor closes: a module that waits for the end of
        // the stream then finds the hook's log line written.
        log.flush?.();
      }
    } else {
      const closed = await hooks.orphan(job.id, job.from, NO_REPLY);
      post({ t: 'orphan-done', seq: job.seq, closed });
    }
  } finally {
    Atomics.store(ctl, DONE, job.seq);
    Atomics.store(ctl, RUNNING, 0);
    // Closed only after DONE: a worker lost in between leaks the descriptor
    // rather than leave the main thread a number that may name another connection.
    conn?.release();
    if (hooks.released.length) post({ t: 'released', ids: hooks.released.splice(0) });
  }
}

// One hook at a time: the deadline and the prompt's wait belong to it.
let chain: Promise<unknown> = Promise.resolve();
port.on('message', (jobs: Job[]) => {
  for (const job of jobs) chain = chain.then(() => run(job));
});
