/**
 * The daemon's registry housekeeping, in a thread of its own with its own
 * connection to the registry:
 *  - the checkpoints of the write-ahead log: the stack workers' connections
 *    make none, so no hook waits for one and its fsync;
 *  - forgetting closed and failed sessions older than `keepMs`, so that
 *    the registry does not grow for ever (open ones always stay);
 *  - the pid watch (WAL: its reads never block the workers' writes): one
 *    light query and one /proc read per application process per sweep,
 *    which with thousands of open sessions would cost a serving thread a
 *    good share of its time. It posts the ids of open sessions whose
 *    application is gone; the main thread hands their closes to the
 *    workers (claims decide who closes). Sessions whose owner's pid the
 *    daemon could not see (start 'unknown') are left alone.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ownerIsGone, Registry } from '../sessions/registry.js';
import type { RegistryInit } from './registry-client.js';

const init = workerData as RegistryInit;
const registry = new Registry(init.path, { synchronous: init.synchronous });
const port = parentPort!;
port.postMessage({});

/**
 * How often the workers' pending files are folded into the database (the
 * files a worker has moved on from then go), and the log is copied into the
 * database: it then holds about this long's commits.
 */
const CHECKPOINT_EVERY_MS = 500;
setInterval(() => {
  try {
    registry.fold();
    registry.checkpoint();
  } catch {
    // Tried again next time; the threads that read the registry fold too, and log what fails.
  }
}, CHECKPOINT_EVERY_MS);

/** How often old sessions are looked for: hourly, or sooner when they are kept less than two hours. */
if (init.keepMs > 0) {
  const forget = () => registry.forgetClosedBefore(new Date(Date.now() - init.keepMs));
  forget();
  setInterval(forget, Math.max(1000, Math.min(3_600_000, init.keepMs / 2)));
}

if (init.watchEveryMs > 0) setInterval(() => {
  const gone = new Map<number, boolean>();
  const orphans: string[] = [];
  let owners: ReturnType<Registry['openOwners']>;
  try {
    owners = registry.openOwners();
  } catch {
    return;  // as above: the next sweep tries again
  }
  for (const o of owners) {
    if (o.ownerStart === 'unknown') continue;
    let g = gone.get(o.ownerPid);
    if (g === undefined) gone.set(o.ownerPid, (g = ownerIsGone(o)));
    if (g) orphans.push(o.id);
  }
  if (orphans.length) port.postMessage({ orphans });
}, init.watchEveryMs);
