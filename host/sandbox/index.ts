/**
 * The sandbox: what a module may reach and how long and how much it may run.
 *
 *  - instrument/: what is done to a core module at load: the sandbox's checks
 *    (core-check.ts) and the rewrite that meters fuel, caps memory, pools the
 *    memory and exports the state to park (meter.ts);
 *  - store/: the per-instance clock that refills or empties the fuel tank
 *    (clock.ts), the pool of recycled linear memories (pool.ts), and parking
 *    an idle instance (snapshot.ts);
 *  - policy/: what a module may reach and which files are trusted, decided
 *    before anything runs: spec.ts, the module options a stack line writes
 *    (pins, limits, grants, fault code); perms.ts and owner.ts, root's
 *    ownership rule for stack files, modules and caches (the one owner and
 *    mode rule, the one file identity); wasi/, WASI 0.2 for granted
 *    modules, deny by default.
 *
 * @example
 *   const spec = parseModuleSpec('pam_motd.wasm timeout=200ms read=/etc/motd.d');
 *   const wasi = wasiImports(spec.grants);
 *   const mod = await loadComponent(path, { allowImports: wasi.allowed, meter: { maxMemoryPages: 128 } });
 *   const meter = new InstanceMeter();
 *   meter.arm(spec.timeoutMs ?? 1000);
 *   const inst = mod.instantiate({ ...hostImports(ctx), ...wasi.imports }, meter.instantiateCore);
 */
export {
  meterCoreModule, pooledMemoryLimits, checkCoreModule, CORE_CAPS, FUEL_EXPORT, SANDBOX_MODULE, OUT_OF_FUEL,
  type MeterOptions, type MeterResult, type CoreCaps, type CheckOptions, type TableCaps,
} from './instrument/index.js';
export {
  InstanceMeter, INITIAL_FUEL, TimeLimitExceeded, MemoryPool, ModuleImages, PAGE, DEFAULT_MEMORY_LIMIT,
  type StoreShared, type MemoryPoolOptions, type ModuleFacts, type Parked, type ParkedCore,
} from './store/index.js';
export { faultOf, SandboxLimitExceeded, type Fault, type FaultKind } from './faults.js';
// policy: line settings, file trust, WASI grants.
export { checkSandboxValues, parseModuleSpec, type ModuleSpec } from './policy/spec.js';
export { checkOwnerPerms, folderProblem, readCheckedFile, stillJudged, strictByDefault, tooLarge, type CheckedFile, type ReadRule } from './policy/perms.js';
export { fileIdentity, ownerModeProblem } from './policy/owner.js';
export {
  allowedImports, GRANTABLE_IMPORTS, grantsNeeded, wasiImports, type Grants, type OnOutput, type WasiOptions, type WasiSandbox,
} from './policy/wasi/index.js';
