/**
 * What the daemon's main thread and its stack workers say to each other,
 * and the block each worker shares with the main thread.
 *
 * The main thread accepts a connection, checks its peer, reads its HOOK
 * frame and hands the connection's descriptor to a worker with the frame
 * (a `hook` job). From then on the worker alone talks to the module: it
 * writes the replies on the descriptor, reads a prompt's ANSWER from it,
 * writes the registry, and closes the descriptor. A hook therefore wakes
 * two threads (the main thread's accept and the worker), not four.
 *
 * The shared block tells the main thread, without a message, where each
 * worker is: the job it runs, the last job it finished, whether it has
 * written to the running job's connection yet, and its hard deadline (the
 * watchdog's only input).
 */
import type { SandboxDefaults } from '../stack/index.js';
import type { HookFrame } from './protocol.js';

/** Where a worker's log lines go: written by the worker itself, or posted to the main thread's function. */
export type WorkerLogTarget = 'syslog' | 'stderr' | 'journal' | 'post';
import type { EngineOptions } from '../engine/index.js';

/** What a worker is told at start. */
export interface WorkerInit {
  shared: SharedArrayBuffer;
  index: number;
  registry: string;
  /** The registry's write lock (write-lock.ts), and this worker's id in it. */
  writeLock: SharedArrayBuffer;
  lockId: number;
  synchronous: 'full' | 'normal';
  log: WorkerLogTarget;
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

/**
 * One hook from a module: the worker owns `fd` from when it starts the job.
 * `id` is the new session's id for an open (chosen by the main thread, which
 * routes that session's close to the same worker).
 */
/** `id`: the session's (new for an open; for a close, its frame's or the one its line names, '' if none). */
export interface HookJob { t: 'hook'; seq: number; fd: number; frame: HookFrame; peerPid: number; id: string }

/**
 * A close the daemon runs by itself, with no connection: a session whose
 * application is gone (`from`: the states it may be claimed from).
 */
export interface OrphanJob { t: 'orphan'; seq: number; id: string; from: ('opening' | 'open' | 'closing')[] }

export type Job = HookJob | OrphanJob;

export type FromWorker =

  /** An orphan job finished; `closed` says whether this worker closed it. */
  | { t: 'orphan-done'; seq: number; closed: boolean }
  /** Opens that failed: no close will come for them to this worker. */
  | { t: 'released'; ids: string[] }
  | { t: 'log'; priority: number; text: string };

/** Int32 slots of the shared block. */
export const RUNNING = 0;   // seq of the job running now (0: none)
export const DONE = 1;      // seq of the last job finished
export const WROTE = 2;     // 1 once the running job has written to its connection
export const SHARED_BYTES = 24;

export function sharedViews(shared: SharedArrayBuffer) {
  return {
    ctl: new Int32Array(shared, 0, 4),
    /** The running hook's hard deadline (Date.now() ms; 0 idle, Infinity while a prompt waits). */
    deadline: new Float64Array(shared, 16, 1),
  };
}

/** syslog(3) priorities by WIT name. */
export const PRIORITY: Record<string, number> = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 };
