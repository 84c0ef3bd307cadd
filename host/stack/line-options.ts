/**
 * What a stack line's module is loaded with: the sandbox's defaults, and
 * the loader's options a line's settings (host/sandbox/policy/spec.ts) make.
 * `StackSession` and `pamwasm check` both load through `lineLoadOptions`.
 */
import { PAM } from '../codes/index.js';
import type { LoadOptions } from '../loader/index.js';
import { allowedImports, PAGE, type ModuleSpec } from '../sandbox/index.js';

/**
 * The sandbox's defaults, for every line that does not set its own:
 *  - timeoutMs 1000: one hook call, or one instantiation; 0 turns metering off;
 *  - memoryBytes 64 MiB: the module's linear memory (the JS runtime of a
 *    componentize-js module needs about 20 MiB of it);
 *  - faultCode PAM_SESSION_ERR: what a faulting line returns (never success).
 * No grants: a module gets the world's imports and nothing else.
 */
export interface SandboxDefaults {
  timeoutMs: number;
  memoryBytes: number;
  faultCode: number;
}

export const SANDBOX_DEFAULTS: Readonly<SandboxDefaults> = Object.freeze({
  timeoutMs: 1000,
  memoryBytes: 64 * 1024 * 1024,
  faultCode: PAM.SESSION_ERR.number,
});

/**
 * The loader's options for a module line: its grants, its memory cap (when
 * metered) and its pin. One place, so that `pamwasm check` loads each
 * module as a session does and refuses what a session would refuse (a
 * memory that starts above the line's cap, a grant, a pin).
 */
export function lineLoadOptions(
  spec: ModuleSpec, defaults: SandboxDefaults, o: { pin?: string | null; strictPermissions?: boolean; cache?: LoadOptions['cache'] } = {},
): LoadOptions {
  const metered = (spec.timeoutMs ?? defaults.timeoutMs) > 0;
  return {
    allowImports: allowedImports(spec.grants),
    meter: metered ? { maxMemoryPages: (spec.memoryBytes ?? defaults.memoryBytes) / PAGE, importMemory: true, maxTableElements: spec.tableElements } : undefined,
    sha256: o.pin ?? spec.sha256,
    strictPermissions: o.strictPermissions,
    cache: o.cache,
  };
}
