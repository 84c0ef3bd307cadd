/**
 * Linear memories given back by instances that are gone, zeroed, by their
 * limits. A new WebAssembly.Memory costs tens of microseconds (with V8's trap
 * handler, a reservation of about 10 GiB of address space) and every page
 * the guest then touches costs a page fault; a recycled one costs neither.
 * A memory comes back only through `InstanceMeter.release()` (or `park()`),
 * from an owner that has dropped the instance and will not call it again,
 * and only when it never grew: it is then indistinguishable from a fresh one
 * (same size and limits, all zero; the new instance writes its own data
 * segments).
 *
 * A pool belongs to an engine (host/engine): two engines never hand each
 * other's memories out, and each counts its own against its own limit.
 */

/** A wasm page: 64 KiB. */
export const PAGE = 65536;

export interface MemoryPoolOptions {
  /**
   * Wasm memories the pool keeps in existence at most before it asks its
   * owner to park idle instances (`onPressure`) instead of making more. With
   * V8's trap handler (node's default) every memory reserves about 10 GiB of
   * address space and a process holds about 13,000; past that V8 fails the
   * allocation only after several full garbage collections, seconds each
   * with thousands of sessions open. Parking before that point costs
   * microseconds. Default 10,000.
   */
  memoryLimit?: number;
  /** Bytes of zeroed memory the pool keeps resident at most. Default 32 MiB. */
  poolBytes?: number;
}

export const DEFAULT_MEMORY_LIMIT = 10_000;
const DEFAULT_POOL_BYTES = 32 * 1024 * 1024;

const positive = (what: string, n: number) => {
  if (!(Number.isInteger(n) && n > 0)) throw new RangeError(`${what} must be a positive integer, not ${n}`);
  return n;
};

/** One number for a memory's limits: both are at most 65,536 pages. */
const limitsKey = (initial: number, maximum: number) => initial * 0x10001 + maximum;

export class MemoryPool {
  /** Free memories by their limits (`limitsKey`). */
  private readonly free = new Map<number, WebAssembly.Memory[]>();
  private pooledBytes = 0;
  private readonly maxBytes: number;
  private memoryLimit: number;
  /** Memories made by this pool and not yet collected (pooled ones included: they hold their reservation). */
  private existing = 0;
  private readonly collected = new FinalizationRegistry<undefined>(() => { this.existing--; });
  /**
   * Called when the pool is about to exceed its count of wasm memories, or
   * (`failed`) V8 could not reserve another one; it should park idle
   * instances, whose memories then come back to the pool.
   */
  onPressure?: (failed: boolean) => void;

  constructor(options: MemoryPoolOptions = {}) {
    this.memoryLimit = positive('the memory limit', options.memoryLimit ?? DEFAULT_MEMORY_LIMIT);
    this.maxBytes = positive('the pool size', options.poolBytes ?? DEFAULT_POOL_BYTES);
  }

  /** The pool's state, for tests and the bench. */
  stats(): { memories: number; bytes: number } {
    let memories = 0;
    for (const list of this.free.values()) memories += list.length;
    return { memories, bytes: this.pooledBytes };
  }

  /** Memories this pool has made that still exist. */
  inExistence(): number {
    return this.existing;
  }

  /** A zeroed memory of these limits: a pooled one, else a new one. */
  take(initial: number, maximum: number): WebAssembly.Memory {
    const key = limitsKey(initial, maximum);
    const reuse = () => {
      const m = this.free.get(key)?.pop();
      if (m) this.pooledBytes -= initial * PAGE;
      return m;
    };
    const found = reuse();
    if (found) return found;
    if (this.existing >= this.memoryLimit && this.onPressure) {
      this.onPressure(false);
      const freed = reuse();
      if (freed) return freed;
    }
    try {
      return this.make(initial, maximum);
    } catch (e) {
      if (!(e instanceof RangeError) || !this.onPressure) throw e;
      this.onPressure(true);
      const freed = reuse();
      if (freed) return freed;
      // Parked memories of other sizes: let them go for the collector to unmap.
      this.free.clear();
      this.pooledBytes = 0;
      return this.make(initial, maximum);
    }
  }

  /**
   * Takes back a memory taken with these limits whose instance is gone:
   * zeroed and kept, unless it grew (then it is not as new) or the pool is full.
   */
  give(memory: WebAssembly.Memory, initial: number, maximum: number): void {
    const bytes = initial * PAGE;
    if (memory.buffer.byteLength !== bytes || this.pooledBytes + bytes > this.maxBytes) return;
    new Uint8Array(memory.buffer).fill(0);
    const key = limitsKey(initial, maximum);
    let list = this.free.get(key);
    if (!list) this.free.set(key, list = []);
    list.push(memory);
    this.pooledBytes += bytes;
  }

  private make(initial: number, maximum: number): WebAssembly.Memory {
    const m = new WebAssembly.Memory({ initial, maximum });
    this.existing++;
    this.collected.register(m, undefined);
    return m;
  }
}
