/**
 * What the daemon's main thread and its stack workers say to each other
 * (postMessage), and the shared block each worker has with the main thread:
 * the watchdog reads the worker's deadline from it, and a prompt's answer
 * comes back through it while the worker waits (Atomics.wait), so a prompt
 * blocks its own worker only.
 */
import type { WitItem } from '../runtime/index.js';
import type { SandboxDefaults, SessionSnapshot } from '../stack/index.js';
import type { EngineOptions } from '../engine/index.js';

/** What a worker is told at start. */
export interface WorkerInit {
  shared: SharedArrayBuffer;
  moduleDir?: string;
  sandbox?: Partial<SandboxDefaults>;
  /** Allowance for a line whose time limit is 0 (not metered in its thread). */
  unmeteredMs: number;
  /** Added to a hook's line limits for its hard deadline. */
  marginMs: number;
  /** Allowance for loading a stack's modules (compiling a component the first time). */
  loadMs: number;
  /** The longest a prompt waits for the person's answer. */
  promptMs: number;
  /**
   * Each worker's engine (host/engine): an engine cannot cross threads, so
   * every worker makes its own from these options. Default: the engine's defaults.
   */
  engine?: EngineOptions;
}

export interface LineRequest {
  /** Set by the pool. */
  rid?: number;
  id: string;
  silent: boolean;
  items: Partial<Record<WitItem, string>>;
  env: Record<string, string>;
}

/** A close on fresh instances from what the registry recorded at open. */
export interface RecordedSession {
  stack: string;
  stackSha256: string;
  moduleDir: string | null;
  snapshot: SessionSnapshot | null;
}

export type Job =
  | (LineRequest & { t: 'open'; stack: string })
  | (LineRequest & { t: 'close' })
  | (LineRequest & { t: 'close-record'; record: RecordedSession });

export interface Done {
  t: 'done';
  rid: number;
  code: number;
  /** Entries for pam_putenv: what the hook changed in the PAM environment. */
  puts: string[];
  /** After an open: the PAM environment and what a later close needs. */
  env?: Record<string, string>;
  snapshot?: SessionSnapshot;
  /** After an open: the sha256 of the stack file as it was read. */
  stackSha256?: string;
  /** Lines that failed without their module deciding (fault, load error), as `file:line module: why`. */
  faults: string[];
  /** Why the hook could not run as asked (stack missing, unsafe, changed). */
  problem?: string;
}

export type WorkerEvent =
  | { t: 'message'; rid: number; style: 'info' | 'error'; text: string }
  | { t: 'prompt'; rid: number; seq: number; style: 'echo-on' | 'echo-off'; text: string }
  | { t: 'syslog'; rid: number; priority: number; text: string };

export type FromWorker = Done | WorkerEvent | { t: 'ready' };

/**
 * The shared block: Int32 [state, answer code, answer length, prompt seq,
 * the running job's rid (0: none)], then at byte 24 the Float64 hard
 * deadline (Date.now() ms; 0 idle, Infinity while a prompt waits), then at
 * byte 32 the answer's UTF-8.
 */
export const ANSWER_BYTES = 65536;
export const SHARED_BYTES = 32 + ANSWER_BYTES;
export const ANSWER_NONE = 0;
export const ANSWER_GIVEN = 1;
/** Index in `ctl` of the running job's rid. */
export const RUNNING = 4;

export function sharedViews(shared: SharedArrayBuffer) {
  return {
    ctl: new Int32Array(shared, 0, 5),
    deadline: new Float64Array(shared, 24, 1),
    answer: new Uint8Array(shared, 32, ANSWER_BYTES),
  };
}

/** syslog(3) priorities by WIT name. */
export const PRIORITY: Record<string, number> = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 };
