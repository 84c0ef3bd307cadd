/**
 * What the daemon's main thread and its stack workers share.
 *
 * The main thread binds the socket; every stack worker accepts
 * connections on it itself (serve-loop.ts), checks the peer, reads the
 * HOOK frame and serves it, so a hook wakes one thread. A close whose
 * session another worker holds goes to that worker's mailbox
 * (mailbox.ts), as do the closes the main thread starts for sessions
 * whose application is gone.
 *
 * The shared block tells the main thread, without a message, where each
 * worker is: whether it runs a job, whether it has written to the running
 * job's connection yet, and its hard deadline (the watchdog's only input).
 */
import type { EngineOptions } from '../engine/index.js';
import type { SandboxDefaults } from '../stack/index.js';

/** Where a worker's log lines go: written by the worker itself, or posted to the main thread's function. */
export type WorkerLogTarget = 'syslog' | 'stderr' | 'journal' | 'post';

/** What a worker is told at start. */
export interface WorkerInit {
  shared: SharedArrayBuffer;
  index: number;
  /** This worker's generation: a worker that takes a lost one's place has a new one (session ids carry it: ids.ts). */
  gen: number;
  /** The daemon run's token in session ids, and each worker index's current generation (0: none). */
  token: string;
  gens: SharedArrayBuffer;
  /** The listening socket, every worker's doorbell (an eventfd) and mailbox, by worker index. */
  listenFd: number;
  wakeFds: number[];
  mailboxes: SharedArrayBuffer[];
  /** Peer uids served besides root's. */
  allowUids: number[];
  /** How long a connection may take to send its HOOK frame. */
  requestMs: number;
  /** How long a worker polls for the next hook before it sleeps, while no thread waits for a CPU (0: never). */
  spinUs: number;
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

export type FromWorker =
  /** A close the main thread handed over finished; `closed` says whether this worker closed the session. */
  | { t: 'orphan-done'; ref: number; closed: boolean }
  | { t: 'log'; priority: number; text: string };

/** Int32 slots of the shared block. */
export const WROTE = 0;     // 1 once the running job has written to its connection
export const EPOLL = 1;     // the worker's epoll descriptor (the main thread closes it after a loss)
export const PENDING = 2;   // the worker's pending file descriptor (0: none; the main thread closes it after a loss)
/** Connections a worker holds while their HOOK comes, at most (serve-loop.ts). */
export const MAX_WAITING = 256;
export const SHARED_BYTES = 24 + 4 * MAX_WAITING;

export function sharedViews(shared: SharedArrayBuffer) {
  return {
    ctl: new Int32Array(shared, 0, 4),
    /** The running hook's hard deadline (Date.now() ms; 0 idle, Infinity while a prompt waits). */
    deadline: new Float64Array(shared, 16, 1),
    /** Descriptors (plus one; 0: free) of the connections the worker holds while their HOOK comes. */
    waiting: new Int32Array(shared, 24, MAX_WAITING),
  };
}

/** syslog(3) priorities by WIT name. */
export const PRIORITY: Record<string, number> = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 };
