/**
 * The daemon's registry, in a thread of its own: every SQLite statement and
 * commit runs here, grouped per event-loop turn (commit.ts), so the main
 * thread, which every hook crosses, spends its time on connections only.
 * Calls are answered in the order they came, each after its transaction
 * committed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ownerIsGone, Registry } from '../sessions/registry.js';
import { GroupCommit } from './commit.js';
import { REGISTRY_CALLS, type RegistryCall, type RegistryInit, type RegistryReply } from './registry-client.js';

const init = workerData as RegistryInit;
const registry = new Registry(init.path, { synchronous: init.synchronous });
const commit = new GroupCommit(registry);
const port = parentPort!;

port.on('message', (m: RegistryCall[] | { close: true }) => {
  if (!Array.isArray(m)) {
    registry.close();
    port.close();
    return;
  }
  // All of one message's calls commit in one transaction; their replies go back in one message.
  void Promise.all(m.map((c) => answer(c))).then((replies) => port.postMessage(replies));
});
port.postMessage([]);

/**
 * The pid watch, here rather than on the main thread: one /proc read per
 * application process per sweep, which with thousands of open sessions
 * would cost the main thread a good share of its time. Sessions whose
 * owner's pid the daemon could not see (start 'unknown') are left alone.
 */
if (init.watchEveryMs > 0) {
  setInterval(() => {
    const gone = new Map<number, boolean>();
    const orphans: string[] = [];
    for (const o of registry.openOwners()) {
      if (o.ownerStart === 'unknown') continue;
      let g = gone.get(o.ownerPid);
      if (g === undefined) gone.set(o.ownerPid, (g = ownerIsGone(o)));
      if (g) orphans.push(o.id);
    }
    if (orphans.length) port.postMessage({ orphans });
  }, init.watchEveryMs).unref();
}

function answer(c: RegistryCall): Promise<RegistryReply> {
  if (!REGISTRY_CALLS.includes(c.op)) return Promise.resolve({ rid: c.rid, error: `no registry call ${c.op}` });
  const method = registry[c.op] as (...a: unknown[]) => unknown;
  return commit.write((r) => method.apply(r, c.args)).then(
    (result) => ({ rid: c.rid, result }),
    (e: Error) => ({ rid: c.rid, error: e.message }),
  );
}
