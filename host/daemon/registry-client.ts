/**
 * The main thread's side of the registry thread (registry-thread.ts): the
 * Registry's methods by name, each a promise that resolves once its write
 * is committed.
 */
import { Worker } from 'node:worker_threads';
import type { Registry } from '../sessions/registry.js';

/** The Registry methods the daemon calls. */
export const REGISTRY_CALLS = ['begin', 'opened', 'failed', 'claim', 'closed', 'get', 'findOnLine', 'list'] as const;
export type RegistryCallName = (typeof REGISTRY_CALLS)[number];

export interface RegistryInit {
  path: string;
  synchronous: 'full' | 'normal';
  /** How often the thread looks for open sessions whose application is gone (ms; 0: never). */
  watchEveryMs: number;
}
export interface RegistryCall { rid: number; op: RegistryCallName; args: unknown[] }
export interface RegistryReply { rid: number; result?: unknown; error?: string }

type Method<K extends RegistryCallName> = Registry[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<R> : never;

export class RegistryClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private next = 1;
  private readonly outbox: RegistryCall[] = [];
  /** Gets the open sessions whose application the thread found gone (the pid watch). */
  onOrphans?: (ids: string[]) => void;
  private failure?: Error;

  private constructor(init: RegistryInit) {
    this.worker = new Worker(new URL('./registry-thread.js', import.meta.url), { workerData: init });
    this.worker.on('message', (replies: RegistryReply[] | { orphans: string[] }) => {
      if (!Array.isArray(replies)) {
        this.onOrphans?.(replies.orphans);
        return;
      }
      for (const m of replies) {
        const p = this.pending.get(m.rid);
        if (!p) continue;
        this.pending.delete(m.rid);
        if (m.error !== undefined) p.reject(new Error(`registry: ${m.error}`));
        else p.resolve(m.result);
      }
    });
    // Without its registry the daemon cannot record sessions: every hook then fails closed.
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`the registry thread exited with status ${code}`)));
  }

  /** Opens the registry in its thread; resolves once it is open (or rejects with why not). */
  static start(init: RegistryInit): Promise<RegistryClient> {
    const c = new RegistryClient(init);
    return new Promise((resolve, reject) => {
      c.worker.once('message', () => resolve(c));  // its first message says the registry is open
      c.worker.once('error', reject);
    });
  }

  call<K extends RegistryCallName>(op: K, ...args: Parameters<Method<K>>): ReturnType<Method<K>> {
    if (this.failure) return Promise.reject(this.failure) as ReturnType<Method<K>>;
    const rid = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(rid, { resolve, reject });
      // The calls of one turn cross to the thread in one message: one wake-up, not one a call.
      if (this.outbox.push({ rid, op, args }) === 1) setImmediate(() => this.worker.postMessage(this.outbox.splice(0)));
    }) as ReturnType<Method<K>>;
  }

  async close(): Promise<void> {
    this.failure = new Error('the registry is closed');
    this.worker.postMessage({ close: true });
    await new Promise((resolve) => this.worker.once('exit', resolve));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
