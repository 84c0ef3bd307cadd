/**
 * The daemon's registry, in a thread of its own: every SQLite statement and
 * commit runs here, grouped per event-loop turn (commit.ts), so the main
 * thread, which every hook crosses, spends its time on connections only.
 * Calls are answered in the order they came, each after its transaction
 * committed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Registry } from '../sessions/registry.js';
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

function answer(c: RegistryCall): Promise<RegistryReply> {
  if (!REGISTRY_CALLS.includes(c.op)) return Promise.resolve({ rid: c.rid, error: `no registry call ${c.op}` });
  const method = registry[c.op] as (...a: unknown[]) => unknown;
  return commit.write((r) => method.apply(r, c.args)).then(
    (result) => ({ rid: c.rid, result }),
    (e: Error) => ({ rid: c.rid, error: e.message }),
  );
}
