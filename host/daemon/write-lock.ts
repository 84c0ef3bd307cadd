/**
 * One registry writer at a time across the daemon's threads. Each stack
 * worker writes on its own SQLite connection; two of them committing at
 * once would meet SQLite's lock, whose busy handler sleeps (1 ms, then 2,
 * 5, ... up to busy_timeout) instead of waiting for the other commit's few
 * microseconds: under load that made the tail latency hundreds of
 * milliseconds. This lock hands over with a futex (Atomics.wait/notify)
 * as soon as the holder is done.
 *
 * The cell holds the holder's id, so the main thread can free the lock of
 * a worker that died holding it.
 */
export const MAIN_LOCK_ID = 0x7fffffff;

export class WriteLock {
  private readonly cell: Int32Array;

  constructor(shared: SharedArrayBuffer, private readonly id: number) {
    this.cell = new Int32Array(shared, 0, 1);
  }

  static shared(): SharedArrayBuffer {
    return new SharedArrayBuffer(4);
  }

  /** Runs `write` holding the lock. */
  run<T>(write: () => T): T {
    // The time-out only bounds a wait whose notify was missed: the loop tries again.
    while (Atomics.compareExchange(this.cell, 0, 0, this.id) !== 0) Atomics.wait(this.cell, 0, Atomics.load(this.cell, 0), 20);
    try {
      return write();
    } finally {
      Atomics.store(this.cell, 0, 0);
      Atomics.notify(this.cell, 0, 1);
    }
  }

  /** Frees the lock if the thread `id` (now gone) held it. */
  static freeFrom(shared: SharedArrayBuffer, id: number): void {
    const cell = new Int32Array(shared, 0, 1);
    if (Atomics.compareExchange(cell, 0, id, 0) === id) Atomics.notify(cell, 0, 1);
  }
}
