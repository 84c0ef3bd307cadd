/**
 * The sandbox's store layer: what one instance holds while it runs (its fuel
 * clock), and what an engine's instances share (the pool of recycled
 * memories, the modules' memory images) or set aside (parked snapshots).
 */
export { InstanceMeter, INITIAL_FUEL, TimeLimitExceeded, type StoreShared } from './clock.js';
export { MemoryPool, PAGE, DEFAULT_MEMORY_LIMIT, type MemoryPoolOptions } from './pool.js';
export { ModuleImages, type ModuleFacts } from './images.js';
export type { Parked, ParkedCore } from './snapshot.js';
