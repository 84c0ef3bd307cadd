/**
 * The daemon's pid watch, in a thread of its own with its own read
 * connection to the registry (WAL: readers never block the main thread's
 * writes): one light query and one /proc read per application process per
 * sweep, which with thousands of open sessions would cost the main thread
 * a good share of its time. It posts the ids of open sessions whose
 * application is gone; the main thread closes them (claims decide who
 * closes). Sessions whose owner's pid the daemon could not see (start
 * 'unknown') are left alone.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ownerIsGone, Registry } from '../sessions/registry.js';
import type { RegistryInit } from './registry-client.js';

const init = workerData as RegistryInit;
const registry = new Registry(init.path, { synchronous: init.synchronous });
const port = parentPort!;
port.postMessage({});

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
}, init.watchEveryMs);
