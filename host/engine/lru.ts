/**
 * A map that keeps its `max` most recently used entries: an engine's caches
 * (compiled cores, loaded components, file identities, parsed stacks) are
 * bounded by it, so a daemon that sees many stacks over months does not
 * keep every module it ever loaded. A Map keeps insertion order, so the
 * oldest entry is the first; a hit moves its entry to the end.
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();
  /** Hits, misses, entries stored and evictions since the cache was made (for tests and the bench). */
  readonly counts = { hits: 0, misses: 0, stored: 0, evicted: 0 };

  constructor(readonly max: number) {
    if (!(Number.isInteger(max) && max > 0)) throw new RangeError(`a cache bound must be a positive integer, not ${max}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const v = this.entries.get(key);
    if (v === undefined) {
      this.counts.misses++;
      return undefined;
    }
    this.counts.hits++;
    this.entries.delete(key);
    this.entries.set(key, v);
    return v;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    this.counts.stored++;
    while (this.entries.size > this.max) {
      this.entries.delete(this.entries.keys().next().value as K);
      this.counts.evicted++;
    }
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  /** Deletes `key` only while it still holds `value` (a failed load must not drop a newer one). */
  deleteIf(key: K, value: V): void {
    if (this.entries.get(key) === value) this.entries.delete(key);
  }
}
