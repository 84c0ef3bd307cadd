/**
 * The sandbox's instrument layer: what is done to a core module once, at
 * load, before it is compiled. Passes of one rewrite (meter.ts):
 *  - fuel (fuel.ts, body-walk.ts): a charge at every function entry, loop
 *    header and bulk instruction, and the out-of-fuel import;
 *  - the memory cap (`maxMemoryPages`, and `tableCaps` for tables);
 *  - the pooled-memory import (`poolMemory`): the memory becomes an import
 *    the store's pool supplies;
 *  - the park exports (`parkExports`): the mutable globals exported, and a
 *    custom section that says whether they and the memory are all the state.
 * And the sandbox's own rules on a core module (core-check.ts), checked
 * before any of it: threads, duplicate imports, resource caps.
 */
export {
  meterCoreModule, pooledMemoryLimits, FUEL_EXPORT, SANDBOX_MODULE, OUT_OF_FUEL, GLOBAL_EXPORT_PREFIX, STATE_SECTION,
  type MeterOptions, type MeterResult,
} from './meter.js';
export { checkCoreModule, CORE_CAPS, type CoreCaps, type CheckOptions } from './core-check.js';
export { MEMORY_SHIFT, TABLE_UNITS_SHIFT } from './fuel.js';
export type { TableCaps } from './sections.js';
