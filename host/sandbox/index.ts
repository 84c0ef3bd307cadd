/**
 * The sandbox: what a module may reach and how long and how much it may run.
 *
 *  - spec.ts: the module options a stack line writes (pins, limits, grants, fault code);
 *  - meter.ts: metering core modules at load, so a call can be stopped in-thread;
 *  - store/: the per-instance clock that refills or empties the fuel tank
 *    (clock.ts), the pool of recycled linear memories (pool.ts), and parking
 *    an idle instance (snapshot.ts);
 *  - wasi/: WASI 0.2 for granted modules, deny by default;
 *  - perms.ts: root's ownership rule for stack files and modules.
 *
 * @example
 *   const spec = parseModuleSpec('pam_motd.wasm timeout=200ms read=/etc/motd.d');
 *   const wasi = wasiImports(spec.grants);
 *   const mod = await loadComponent(path, { allowImports: wasi.allowed, meter: { maxMemoryPages: 128 } });
 *   const meter = new InstanceMeter();
 *   meter.arm(spec.timeoutMs ?? 1000);
 *   const inst = mod.instantiate({ ...hostImports(ctx), ...wasi.imports }, meter.instantiateCore);
 */
export { parseModuleSpec, type ModuleSpec } from './spec.js';
export { meterCoreModule, type MeterOptions, type MeterResult } from './meter.js';
export {
  InstanceMeter, INITIAL_FUEL, TimeLimitExceeded, MemoryPool, ModuleImages, PAGE, DEFAULT_MEMORY_LIMIT,
  type StoreShared, type MemoryPoolOptions, type ModuleFacts, type Parked, type ParkedCore,
} from './store/index.js';
export { faultOf, SandboxLimitExceeded, type Fault, type FaultKind } from './faults.js';
export { wasiImports, type Grants, type WasiOptions } from './wasi/index.js';
export { checkOwnerPerms, folderProblem, readCheckedFile, strictByDefault, type CheckedFile, type ReadRule } from './perms.js';
