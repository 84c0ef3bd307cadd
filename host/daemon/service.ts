/**
 * The daemon's main thread: routes each hook to a stack worker with its
 * connection (an open to the least busy worker, with the session id it will
 * have; a close to the worker holding the session's instances), hands the
 * closes of sessions whose application is gone to the workers, and takes
 * over what a lost worker left: the hook it was running fails closed, the
 * ones queued behind it run elsewhere (a close then on fresh instances from
 * the registry), and its sessions close later in the same way.
 */
import { randomUUID } from 'node:crypto';
import { PAM } from '../codes/index.js';
import type { Registry } from '../sessions/registry.js';
import { lineOf, ownerOf } from './hooks.js';
import type { FromWorker, Job } from './jobs.js';
import { closeFd, writeAllSync } from './libc.js';
import { LOG, type DaemonLog } from './log.js';
import type { NewJob, Slot, Unfinished, WorkerPool } from './pool.js';
import { encodeFrame, type HookFrame } from './protocol.js';
import type { WriteLock } from './write-lock.js';

export { LOG, type DaemonLog } from './log.js';

const FAILED = PAM.SESSION_ERR.number;
type ClaimFrom = ('opening' | 'open' | 'closing')[];

export class DaemonService {
  /** Orphan closes handed to a worker, by seq: each resolves with whether it closed the session. */
  private readonly orphanWaits = new Map<number, (closed: boolean) => void>();

  constructor(private readonly registry: Registry, private readonly lock: WriteLock, private readonly pool: WorkerPool, private readonly log: DaemonLog) {}

  /** Hands one hook and its connection's descriptor (now the worker's) to a worker. */
  hook(frame: HookFrame, fd: number, peerPid: number): void {
    let id = frame.hook === 'open_session' ? randomUUID() : frame.sessionId;
    // A close without an id: which session the line names decides where it runs (the worker looks again, and claims).
    if (frame.hook === 'close_session' && !id) id = this.registry.findOpen(lineOf(frame.stack, frame.items), { stack: frame.stack, owner: ownerOf(peerPid) })?.id ?? '';
    this.pool.dispatch({ t: 'hook', fd, frame, peerPid, id }, frame.hook === 'close_session' && id ? this.pool.holderOf(id) : undefined);
  }

  /** What a worker tells the main thread. */
  onMessage(m: FromWorker, slot: Slot): void {
    if (m.t === 'orphan-done') this.orphanDone(m.seq, m.closed);
    else if (m.t === 'released') for (const id of m.ids) this.pool.release(id, slot);
    else if (m.t === 'log') this.log(m.priority, m.text);
  }

  /** A worker was lost (see pool.ts). */
  workerLost(index: number, sessions: string[], reason: string, left: Unfinished): void {
    this.log(LOG.err, `worker ${index} ${reason}; ${sessions.length} open session(s) will close on fresh instances: ${sessions.join(' ') || '-'}`);
    if (left.running) this.failRunning(left.running, left.wrote, `worker ${index} ${reason}`);
    // Not started: they run on another worker (a close then on fresh instances).
    for (const j of left.queued) this.redispatch(j);
  }

  /**
   * At start: closes, exactly once, the sessions a previous daemon left
   * whose application is gone (half-opened and half-closed ones too).
   */
  async recoverAtStart(): Promise<number> {
    const gone = this.registry.orphans();
    const closed = await Promise.all(gone.map((r) => this.orphan(r.id, ['opening', 'open', 'closing'])));
    return closed.filter(Boolean).length;
  }

  /** The pid watch found these sessions' applications gone: each closes on the worker that holds it, behind its open if that still runs. */
  async orphansFound(ids: string[]): Promise<number> {
    const closed = await Promise.all(ids.map((id) => this.orphan(id, ['opening', 'open'])));
    return closed.filter(Boolean).length;
  }

  private orphan(id: string, from: ClaimFrom): Promise<boolean> {
    return new Promise((resolve) => {
      this.orphanWaits.set(this.pool.dispatch({ t: 'orphan', id, from }, this.pool.holderOf(id)), resolve);
    });
  }

  private orphanDone(seq: number, closed: boolean): void {
    const w = this.orphanWaits.get(seq);
    this.orphanWaits.delete(seq);
    w?.(closed);
  }

  private redispatch(j: Job): void {
    const { seq, ...job } = j;
    const next = this.pool.dispatch(job as NewJob, j.t === 'hook' && j.frame.sessionId ? this.pool.holderOf(j.frame.sessionId) : undefined);
    const w = this.orphanWaits.get(seq);
    if (w) {
      this.orphanWaits.delete(seq);
      this.orphanWaits.set(next, w);
    }
  }

  /**
   * The job the lost worker was running fails closed: an open is recorded
   * failed; a close it had claimed is recorded closed with its failure and
   * not run again (it ran, in part). The module gets PAM_SESSION_ERR, after
   * its session id if the worker had not sent it yet.
   */
  private failRunning(j: Job, wrote: boolean, why: string): void {
    const open = j.t === 'hook' && j.frame.hook === 'open_session';
    const id = j.id;
    try {
      if (open) this.lock.run(() => this.registry.failed(id, FAILED));
      else if (id) this.lock.run(() => this.registry.closed(id, FAILED, j.t === 'orphan' ? 'orphan-lost' : 'daemon-lost'));
    } catch (e) {
      this.log(LOG.err, `session=${id}: not recorded as failed: ${(e as Error).message}`);
    }
    if (j.t === 'orphan') {
      this.orphanDone(j.seq, true);
      return;
    }
    const frames = [...(open && !wrote ? [encodeFrame({ type: 'session', id })] : []), encodeFrame({ type: 'result', code: FAILED })];
    writeAllSync(j.fd, Buffer.concat(frames), 1000);
    closeFd(j.fd);
    const i = j.frame.items;
    this.log(LOG.err, `${open ? 'open' : 'close'} session=${id || '-'} service=${i.service ?? ''} user=${i.user ?? ''} line=${i.tty ?? '-'} code=PAM_SESSION_ERR: ${why}`);
  }
}
