/**
 * The daemon's registry: its writes run on the main thread, grouped per
 * event-loop turn into one transaction (commit.ts), and the pid watch reads
 * the same file from a thread of its own (pid-watch.ts).
 *
 * Why the main thread: in WAL mode with synchronous=NORMAL a commit is a
 * write() to the WAL, no fsync, about 15-30 us; a round trip to a registry
 * thread costs two thread wake-ups, which on a busy machine (every core
 * taken) each wait for a time slice. A hook makes two registry calls, so the
 * thread cost more in latency than the SQL it moved off this thread.
 */
import { Worker } from 'node:worker_threads';
import { Registry } from '../sessions/registry.js';
import { GroupCommit } from './commit.js';

/** The Registry methods the daemon calls. */
export const REGISTRY_CALLS = ['begin', 'opened', 'failed', 'claim', 'closed', 'get', 'findOnLine', 'list'] as const;
export type RegistryCallName = (typeof REGISTRY_CALLS)[number];

export interface RegistryInit {
  path: string;
  synchronous: 'full' | 'normal';
  /** How often the pid watch looks for open sessions whose application is gone (ms; 0: never). */
  watchEveryMs: number;
}

type Method<K extends RegistryCallName> = Registry[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<R> : never;

export class RegistryClient {
  private readonly registry: Registry;
  private readonly commit: GroupCommit;
  private readonly watch?: Worker;
  /** Gets the open sessions whose application the pid watch found gone. */
  onOrphans?: (ids: string[]) => void;
  private failure?: Error;

  private constructor(init: RegistryInit, ready: () => void, failed: (e: Error) => void) {
    this.registry = new Registry(init.path, { synchronous: init.synchronous });
    this.commit = new GroupCommit(this.registry);
    if (init.watchEveryMs <= 0) {
      queueMicrotask(ready);
      return;
    }
    this.watch = new Worker(new URL('./pid-watch.js', import.meta.url), { workerData: init });
    this.watch.once('message', ready);  // its first message says it has the registry open
    this.watch.on('message', (m: { orphans?: string[] }) => { if (m.orphans) this.onOrphans?.(m.orphans); });
    this.watch.once('error', failed);
  }

  /** Opens the registry (and starts its pid watch); rejects with why it cannot. */
  static start(init: RegistryInit): Promise<RegistryClient> {
    return new Promise((resolve, reject) => {
      const c: RegistryClient = new RegistryClient(init, () => resolve(c), reject);
    });
  }

  /** A Registry method; resolves once the transaction it ran in has committed. */
  call<K extends RegistryCallName>(op: K, ...args: Parameters<Method<K>>): ReturnType<Method<K>> {
    if (this.failure) return Promise.reject(this.failure) as ReturnType<Method<K>>;
    const method = this.registry[op] as (...a: unknown[]) => unknown;
    return this.commit.write((r) => method.apply(r, args)) as ReturnType<Method<K>>;
  }

  async close(): Promise<void> {
    this.failure = new Error('the registry is closed');
    await this.watch?.terminate();
    this.registry.close();
  }
}
