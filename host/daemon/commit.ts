/**
 * Group commit: every registry write the daemon makes in one event-loop
 * turn goes into one SQLite transaction, so 32 sessions opening at once
 * cost one commit, not 32. A hook awaits its write before it answers the
 * module, so a session is still recorded before its open returns.
 */
import type { Registry } from '../sessions/registry.js';

interface Op { run: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }

export class GroupCommit {
  private queue: Op[] = [];
  private scheduled = false;

  constructor(private readonly registry: Registry) {}

  /** Runs `op` in the next group's transaction; resolves with its result once committed. */
  write<T>(op: (r: Registry) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: () => op(this.registry), resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const ops = this.queue;
    this.queue = [];
    this.scheduled = false;
    const results: unknown[] = [];
    try {
      this.registry.batch(() => { for (const op of ops) results.push(op.run()); });
    } catch (e) {
      // One write failed and the transaction rolled back: run each on its own, so one bad write fails alone.
      for (const op of ops) {
        try {
          op.resolve(op.run());
        } catch (err) {
          op.reject(err);
        }
      }
      return;
    }
    ops.forEach((op, i) => op.resolve(results[i]));
  }
}
