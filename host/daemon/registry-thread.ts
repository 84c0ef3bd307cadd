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
import { REGISTRY_CALLS, type RegistryCall, type RegistryInit } from './registry-client.js';

const init = workerData as RegistryInit;
const registry = new Registry(init.path, { synchronous: init.synchronous });
const commit = new GroupCommit(registry);
const port = parentPort!;

port.on('message', (m: RegistryCall | { close: true }) => {
  if ('close' in m) {
    registry.close();
    port.close();
    return;
  }
  if (!REGISTRY_CALLS.includes(m.op)) {
    port.postMessage({ rid: m.rid, error: `no registry call ${m.op}` });
    return;
  }
  const method = registry[m.op] as (...a: unknown[]) => unknown;
  commit.write((r) => method.apply(r, m.args)).then(
    (result) => port.postMessage({ rid: m.rid, result }),
    (e: Error) => port.postMessage({ rid: m.rid, error: e.message }),
  );
});
port.postMessage({ ready: true });
