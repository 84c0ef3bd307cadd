/**
 * The main thread's registry: its own connection, for what the main thread
 * decides (routing a close without an id, the sessions a previous run left,
 * a lost worker's running job), and the thread that checkpoints the
 * write-ahead log and watches the applications' pids (pid-watch.ts). The stack workers write
 * their sessions on connections of their own (hooks.ts).
 */
import { Worker } from 'node:worker_threads';
import { Registry } from '../sessions/registry.js';

export interface RegistryInit {
  path: string;
  synchronous: 'full' | 'normal';
  /** How often the pid watch looks for open sessions whose application is gone (ms; 0: never). */
  watchEveryMs: number;
  /** How long closed and failed sessions are kept (ms; 0: for ever). */
  keepMs: number;
}

export class RegistryClient {
  readonly registry: Registry;
  private readonly watch: Worker;
  /** Gets the open sessions whose application the pid watch found gone. */
  onOrphans?: (ids: string[]) => void;

  private constructor(init: RegistryInit, ready: () => void, failed: (e: Error) => void) {
    this.registry = new Registry(init.path, { synchronous: init.synchronous });
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

  async close(): Promise<void> {
    await this.watch.terminate();
    this.registry.close();
  }
}
