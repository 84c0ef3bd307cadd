/**
 * `pamwasm daemon`: the resident service behind pam_wasm.so. It binds its
 * UNIX socket as root, drops to its own user, runs stacks in a pool of
 * worker threads under a watchdog, and keeps every session in its
 * registry before the open returns, so that neither a worker's loss nor
 * the daemon's (kill -9, upgrade) loses a close.
 *
 * @example
 *   const d = await startDaemon({ socket: '/run/pamwasm/pamwasm.sock', user: 'pamwasm' });
 *   ...
 *   await d.stop();
 */
import { availableParallelism } from 'node:os';
import { chmodSync, closeSync, constants, fchownSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError } from '../errors/index.js';
import type { SandboxDefaults } from '../stack/index.js';
import type { WorkerLogTarget } from './jobs.js';
import { stderrLog, syslogLog } from './log.js';
import { WorkerPool } from './pool.js';
import { MAIN_LOCK_ID, WriteLock } from './write-lock.js';
import { checkCodeReachable, daemonAccount, dropTo, isRoot, prepareRegistryDir, type Account } from './privileges.js';
import { closeFd, listenUnix, lockExclusive, setNonBlocking } from './libc.js';
import { DEFAULT_KEEP_MS } from '../sessions/registry.js';
import { RegistryClient } from './registry-client.js';
import { DaemonService, LOG, type DaemonLog } from './service.js';

export { DaemonService, type DaemonLog } from './service.js';

export const DEFAULT_SOCKET = '/run/pamwasm/pamwasm.sock';
export const DEFAULT_DAEMON_REGISTRY = '/var/lib/pamwasm/daemon/registry.db';
export { DEFAULT_KEEP_MS };
/** A worker's poll for the next hook (`spinMs`): about the time between a session's open and close, or one session and the next, when they come back to back. */
export const DEFAULT_SPIN_MS = 0.3;

export interface DaemonOptions {
  socket?: string;
  registry?: string;
  /** The user to run as after binding (as root); 'root' keeps root, with a warning. Default `pamwasm`; not root: this process's own. */
  user?: string;
  /** Stack workers. Default: the cores, at least 2. */
  workers?: number;
  /** Peer uids served besides root. */
  allowUids?: number[];
  /** Registry durability: 'normal' (default) survives kill -9 of the daemon; 'full' also a power loss. */
  synchronous?: 'full' | 'normal';
  /** Where relative module paths in stacks are found (default: the bundled modules). */
  moduleDir?: string;
  /** Sandbox defaults for every line; `timeoutMs: 0` leaves lines to the watchdog alone. */
  sandbox?: Partial<SandboxDefaults>;
  /** Watchdog: added to a hook's line limits (default 2 s); allowance of an unmetered line (default 10 s). */
  marginMs?: number;
  unmeteredMs?: number;
  /** How often the pid watch looks for sessions whose application is gone (default 2 s; 0: never). */
  watchEveryMs?: number;
  /** How long closed and failed sessions stay in the registry (default 30 days; 0: for ever). Open ones always stay. */
  keepMs?: number;
  /**
   * How long a worker that has just served a hook polls for the next one
   * before it sleeps, while no thread waits for a CPU (default 0.3 ms; 0: never).
   */
  spinMs?: number;
  /** Where log lines go: syslog (default), stderr (the journal under systemd), or a function. */
  log?: 'syslog' | 'stderr' | DaemonLog;
}

export interface RunningDaemon {
  readonly socket: string;
  /** The listening socket's descriptor (the workers accept on it). */
  readonly listenFd: number;
  readonly service: DaemonService;
  readonly pool: WorkerPool;
  stop(): Promise<void>;
}

function makeLog(o: DaemonOptions['log']): { log: DaemonLog; workers: WorkerLogTarget } {
  if (typeof o === 'function') return { log: o, workers: 'post' };
  if (o === 'stderr') {
    // journald reads a `<N>` prefix as the line's priority.
    const journal = Boolean(process.env.JOURNAL_STREAM);
    return { log: stderrLog(journal), workers: journal ? 'journal' : 'stderr' };
  }
  return { log: syslogLog(), workers: 'syslog' };
}

/** systemd socket activation: the listening socket is fd 3 (sd_listen_fds(3)). */
function activationFd(): number | undefined {
  return process.env.LISTEN_PID === String(process.pid) && process.env.LISTEN_FDS === '1' ? 3 : undefined;
}

/** Connections that may wait to be accepted (the kernel caps it at net.core.somaxconn). */
const BACKLOG = 4096;

/** The listening socket: systemd's (socket activation) or bound here. */
function listen(socket: string): number {
  const fd = activationFd();
  if (fd === undefined) return listenUnix(socket, BACKLOG);
  // Every worker waits on it and accepts what is there: it must not block when another was first.
  setNonBlocking(fd);
  return fd;
}

export async function startDaemon(o: DaemonOptions = {}): Promise<RunningDaemon> {
  const socket = o.socket ?? DEFAULT_SOCKET;
  const registryPath = o.registry ?? DEFAULT_DAEMON_REGISTRY;
  const { log, workers: workerLog } = makeLog(o.log);
  const account = daemonAccount(o.user);
  const root = isRoot();
  if (account.uid === 0) log(LOG.warning, 'running as root (--user root): a V8 escape from a module would get root');
  if (root && account.uid !== 0) checkCodeReachable(account);
  if (root) prepareRegistryDir(registryPath, account);
  // Before the socket: a second daemon must not take the first one's socket path.
  const registryLock = lockRegistry(registryPath, root ? account.uid : undefined);
  try {
    return await serve(o, { socket, registryPath, log, workerLog, account, root, registryLock });
  } catch (e) {
    closeSync(registryLock);
    throw e;
  }
}

interface Prepared { socket: string; registryPath: string; log: DaemonLog; workerLog: WorkerLogTarget; account: Account; root: boolean; registryLock: number }

/** The daemon's start once it holds its registry's lock. */
async function serve(o: DaemonOptions, { socket, registryPath, log, workerLog, account, root, registryLock }: Prepared): Promise<RunningDaemon> {
  if (activationFd() === undefined) {
    // sockaddr_un's sun_path holds 108 bytes with the NUL.
    const bytes = Buffer.byteLength(socket);
    if (bytes > 107) throw new UsageError(`the socket path ${socket} is ${bytes} bytes; a UNIX socket's path can have at most 107: choose a shorter --socket path`);
    mkdirSync(dirname(socket), { recursive: true, mode: 0o755 });
    rmSync(socket, { force: true });
  }
  let listenFd: number;
  try {
    listenFd = listen(socket);
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    const fix = errno === 13 ? 'run it as root, or choose a --socket path in a folder this user may write'
      : errno === 98 ? 'another process listens there: stop it, or choose another --socket path'
        : 'check the --socket path';
    throw new UsageError(`${(e as Error).message}: ${fix}`);
  }
  // Who may connect is decided by SO_PEERCRED, not by the file's mode.
  if (activationFd() === undefined) chmodSync(socket, 0o666);
  if (root && account.uid !== 0) dropTo(account);

  const late: { service?: DaemonService } = {};
  const synchronous = o.synchronous ?? 'normal';
  const registry = await RegistryClient.start({ path: registryPath, synchronous, watchEveryMs: o.watchEveryMs ?? 2000, keepMs: o.keepMs ?? DEFAULT_KEEP_MS });
  const writeLock = WriteLock.shared();
  const pool = new WorkerPool({
    size: o.workers ?? Math.max(2, availableParallelism()),
    registry: registryPath,
    listenFd,
    allowUids: o.allowUids ?? [],
    requestMs: 10_000,
    spinUs: Math.round((o.spinMs ?? DEFAULT_SPIN_MS) * 1000),
    writeLock,
    synchronous,
    log: workerLog,
    moduleDir: o.moduleDir,
    sandbox: o.sandbox,
    marginMs: o.marginMs ?? 2000,
    unmeteredMs: o.unmeteredMs ?? 10_000,
    loadMs: 60_000,
    promptMs: 10 * 60_000,
    onLost: (index, tag, reason, left) => late.service?.workerLost(index, tag, reason, left),
    onMessage: (m, slot) => late.service?.onMessage(m, slot),
  });
  const service: DaemonService = new DaemonService(registry.registry, new WriteLock(writeLock, MAIN_LOCK_ID), pool, log);
  registry.onOrphans = (ids) => void service.orphansFound(ids);
  late.service = service;
  const recovered = await service.recoverAtStart();
  log(LOG.notice, `serving ${socket} as ${account.name} with ${pool.size} workers; closed ${recovered} session(s) left by a previous run`);

  return {
    socket, listenFd, service, pool,
    async stop() {
      await pool.close();
      // The workers' pending files: they write no more.
      try {
        registry.registry.fold((group) => group.startsWith(`${pool.token}-`));
      } catch (e) {
        log(LOG.err, `the workers' pending files were not folded into the registry (the next start will): ${(e as Error).message}`);
      }
      closeFd(listenFd);
      if (activationFd() === undefined) rmSync(socket, { force: true });
      await registry.close();
      closeSync(registryLock);
    },
  };
}

/**
 * One daemon per registry: its workers' pending files are removed at the
 * next start as those of an earlier run, which they would be. A daemon
 * holds flock(2) on `<registry>-daemon.lock` while it runs.
 */
function lockRegistry(registryPath: string, owner?: number): number {
  const path = `${registryPath}-daemon.lock`;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    throw new UsageError(`cannot open the registry's lock ${path}: ${(e as Error).message}: check the --registry path`);
  }
  if (owner !== undefined) fchownSync(fd, owner, -1);
  if (!lockExclusive(fd)) {
    closeSync(fd);
    throw new UsageError(`another pamwasm daemon serves the registry ${registryPath} (it holds ${path}): stop it, or give this daemon a --registry of its own`);
  }
  return fd;
}
