/**
 * The sandbox: what a module may reach and how long and how much it may run.
 *
 *  - meter.ts: metering core modules at load, so a call can be stopped in-thread;
 *  - limits.ts: the per-instance clock that refills or empties the fuel tank,
 *    the pool of recycled linear memories, and parking an idle instance;
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
export { meterCoreModule, type MeterOptions, type MeterResult } from './meter.js';
export { InstanceMeter, TimeLimitExceeded, memoryPoolStats, memoriesInExistence, setMemoryLimit, type Parked } from './limits.js';
export { faultOf, SandboxLimitExceeded, type Fault, type FaultKind } from './faults.js';
// policy: line settings, file trust, WASI grants.
export { checkSandboxValues, parseModuleSpec, type ModuleSpec } from './policy/spec.js';
export { checkOwnerPerms, folderProblem, readCheckedFile, stillJudged, strictByDefault, type CheckedFile, type ReadRule } from './policy/perms.js';
export { fileIdentity, ownerModeProblem } from './policy/owner.js';
export {
  allowedImports, GRANTABLE_IMPORTS, grantsNeeded, wasiImports, type Grants, type OnOutput, type WasiOptions, type WasiSandbox,
} from './policy/wasi/index.js';
