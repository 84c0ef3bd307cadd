/**
 * The daemon's main thread: hands the closes of sessions whose application
 * is gone to the workers (to the one holding the session's instances), and
 * takes over what a lost worker left: the hook it was running fails
 * closed, and its sessions close later on fresh instances from the
 * registry. The workers accept and serve hooks themselves (serve-loop.ts).
 */
import { PAM } from '../codes/index.js';
import type { FoldResult, Registry } from '../sessions/registry.js';
import { lineOf, ownerOf } from './hooks.js';
import type { FromWorker } from './jobs.js';
import { closeFd, writeAllSync } from './libc.js';
import { LOG, type DaemonLog } from './log.js';
import { KIND_ORPHAN, type ClaimState, type MailJob } from './mailbox.js';
import type { Slot, Unfinished, WorkerPool } from './pool.js';
import { decodeFrame, encodeFrame } from './protocol.js';
import type { WriteLock } from './write-lock.js';

export { LOG, type DaemonLog } from './log.js';

const FAILED = PAM.SESSION_ERR.number;
/** How long an orphan's close waits before it is handed again, while its worker's mailbox is full. */
const RETRY_MS = 50;

export class DaemonService {
  /** Orphan closes handed to a worker, by ref: each resolves with whether it closed the session. */
  private readonly orphanWaits = new Map<number, (closed: boolean) => void>();
  private nextRef = 1;

  constructor(private readonly registry: Registry, private readonly lock: WriteLock, private readonly pool: WorkerPool, private readonly log: DaemonLog) {}

  /** What a worker tells the main thread. */
  onMessage(m: FromWorker, _slot: Slot): void {
    if (m.t === 'orphan-done') this.orphanDone(m.ref, m.closed);
    else if (m.t === 'log') this.log(m.priority, m.text);
  }

  /** A worker was lost (see pool.ts). */
  workerLost(index: number, tag: string, reason: string, left: Unfinished): void {
    let held: string[] = [];
    try {
      // The lost worker's pending files, read to their end: it writes no more.
      this.logTorn(this.registry.fold((group) => group === tag));
      held = this.registry.openIdsEndingWith(`.${tag}`);
    } catch (e) {
      this.log(LOG.err, `worker ${index}: its open sessions could not be listed: ${(e as Error).message}`);
    }
    this.log(LOG.err, `worker ${index} ${reason}; ${held.length} open session(s) will close on fresh instances: ${held.join(' ') || '-'}`);
    if (left.running) this.failRunning(left.running, left.wrote, `worker ${index} ${reason}`);
  }

  /**
   * At start: closes, exactly once, the sessions a previous daemon left
   * whose application is gone (half-opened and half-closed ones too).
   */
  async recoverAtStart(): Promise<number> {
    // The pending files of earlier runs: read to their end, they go.
    this.logTorn(this.registry.fold((group) => !group.startsWith(`${this.pool.token}-`)));
    const gone = this.registry.orphans();
    const closed = await Promise.all(gone.map((r) => this.orphan(r.id, ['opening', 'open', 'closing'])));
    return closed.filter(Boolean).length;
  }

  private logTorn(f: FoldResult): void {
    for (const t of f.torn) this.log(LOG.warning, `pending file ${t.file} ended in ${t.bytes} byte(s) of a record cut short (its writer was killed while writing it: that event was never answered); removed`);
  }

  /** The pid watch found these sessions' applications gone: each closes on the worker that holds it, behind the hook it runs. */
  async orphansFound(ids: string[]): Promise<number> {
    const closed = await Promise.all(ids.map((id) => this.orphan(id, ['opening', 'open'])));
    return closed.filter(Boolean).length;
  }

  private orphan(id: string, from: ClaimState[]): Promise<boolean> {
    return new Promise((resolve) => {
      const ref = this.nextRef++;
      this.orphanWaits.set(ref, resolve);
      const hand = () => { if (!this.pool.hand({ kind: KIND_ORPHAN, id, from, ref })) setTimeout(hand, RETRY_MS).unref(); };
      hand();
    });
  }

  private orphanDone(ref: number, closed: boolean): void {
    const w = this.orphanWaits.get(ref);
    this.orphanWaits.delete(ref);
    w?.(closed);
  }

  /**
   * The job the lost worker was running fails closed: an open is recorded
   * failed; a close is recorded closed with its failure and not run again
   * (it ran, in part). The module gets PAM_SESSION_ERR, after its session
   * id if the worker had not sent it yet.
   */
  private failRunning(j: MailJob, wrote: boolean, why: string): void {
    if (j.kind === KIND_ORPHAN) {
      this.record(j.id, () => this.registry.closed(j.id, FAILED, 'orphan-lost'));
      this.orphanDone(j.ref, true);
      return;
    }
    let frame;
    try {
      const f = decodeFrame('to-daemon', j.frame);
      if (f.type === 'hook') frame = f;
    } catch { /* read by the worker before: cannot fail */ }
    const open = frame?.hook === 'open_session';
    const id = j.id;
    if (open && frame) {
      const line = lineOf(frame.stack, frame.items);
      const row = { id, ...line, stackSha256: '', moduleDir: null, systemService: null, systemConfdir: null };
      this.record(id, () => this.registry.record(row, ownerOf(j.peerPid), false, FAILED, {}, { cached: [], data: [], modules: [] }));
    } else if (id) {
      this.record(id, () => this.registry.closed(id, FAILED, 'daemon-lost') || this.registry.closed(id, FAILED, 'daemon-lost', 'open'));
    }
    const frames = [...(open && !wrote ? [encodeFrame({ type: 'session', id })] : []), encodeFrame({ type: 'result', code: FAILED })];
    writeAllSync(j.fd, Buffer.concat(frames), 1000);
    closeFd(j.fd);
    const i = frame?.items ?? {};
    this.log(LOG.err, `${open ? 'open' : 'close'} session=${id || '-'} service=${i.service ?? ''} user=${i.user ?? ''} line=${i.tty ?? '-'} code=PAM_SESSION_ERR: ${why}`);
  }

  private record(id: string, write: () => unknown): void {
    try {
      this.lock.run(() => write());
    } catch (e) {
      this.log(LOG.err, `session=${id}: not recorded as failed: ${(e as Error).message}`);
    }
  }
}
