/**
 * The stack workers and their watchdog, on the main thread. Stacks run in
 * worker threads so that a hook that outruns every in-thread limit (the
 * backstop case: a bug in the meter, a host call that never returns) costs
 * one worker, not the daemon: the watchdog terminates a worker past its
 * hard deadline, and once it has stopped, hands back the job it was running
 * and those queued behind it (see service.ts), reports the sessions it held
 * (their closes then run on fresh instances from the registry) and starts a
 * new worker in its place. Other workers and their sessions are untouched.
 *
 * The pool needs no message from a worker to know where it is: the shared
 * block (jobs.ts) holds the job it runs and the last one it finished.
 */
import { Worker } from 'node:worker_threads';
import { WriteLock } from './write-lock.js';
import { DONE, RUNNING, SHARED_BYTES, sharedViews, WROTE, type FromWorker, type Job, type WorkerInit } from './jobs.js';

export type NewJob = Job extends infer J ? (J extends Job ? Omit<J, 'seq'> : never) : never;

/** What a lost worker left: the job it was running (and whether it had written to its module), and those it had not started. */
export interface Unfinished {
  running?: Job;
  wrote: boolean;
  queued: Job[];
}

export class Slot {
  readonly worker: Worker;
  readonly views: ReturnType<typeof sharedViews>;
  /** Jobs handed to this worker and not yet seen finished, in order. */
  readonly queue: Job[] = [];
  /** Open sessions whose instances live in this worker (as far as the main thread knows). */
  readonly sessions = new Set<string>();
  /** Jobs of this event-loop turn, posted together at its end. */
  outbox: Job[] = [];
  lost = false;
  readonly exited: Promise<void>;

  constructor(readonly index: number, readonly lockId: number, init: Omit<WorkerInit, 'shared' | 'index' | 'lockId'>) {
    const shared = new SharedArrayBuffer(SHARED_BYTES);
    this.views = sharedViews(shared);
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { ...init, index, lockId, shared } });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }
}

export interface PoolOptions extends Omit<WorkerInit, 'shared' | 'index' | 'lockId'> {
  size: number;
  /** How often the watchdog looks at the workers' deadlines. */
  watchEveryMs?: number;
  /** A worker was lost: `sessions` were open in it, `reason` says why, `left` is what it had not finished. */
  onLost(index: number, sessions: string[], reason: string, left: Unfinished): void;
  onMessage(m: FromWorker, slot: Slot): void;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly holder = new Map<string, Slot>();
  private readonly timer: NodeJS.Timeout;
  private nextSeq = 1;
  private nextLockId = 1;
  private closing = false;

  constructor(private readonly options: PoolOptions) {
    for (let i = 0; i < options.size; i++) this.slots.push(this.spawn(i));
    this.timer = setInterval(() => this.watch(), options.watchEveryMs ?? 50);
    this.timer.unref();
  }

  get size(): number {
    return this.slots.length;
  }

  /** The worker holding an open session's instances, if it still lives. */
  holderOf(id: string): Slot | undefined {
    return this.holder.get(id);
  }

  /** Forgets that a worker holds `id` (its open failed, or it closed). */
  release(id: string, slot?: Slot): void {
    const s = this.holder.get(id);
    if (s && (!slot || s === slot)) {
      s.sessions.delete(id);
      this.holder.delete(id);
    }
  }

  /**
   * Hands a job to `slot` (a close of a session it holds), else to the
   * least busy worker; returns its seq. An open's session is taken as held
   * by its worker from now on, so its close goes there, behind it.
   */
  dispatch(job: NewJob, slot?: Slot): number {
    const s = slot && !slot.lost ? slot : this.leastBusy();
    const seq = this.nextSeq++;
    const j = { ...job, seq } as Job;
    if (j.t === 'hook' && j.frame.hook === 'open_session') {
      s.sessions.add(j.id);
      this.holder.set(j.id, s);
    }
    s.queue.push(j);
    // One message per turn, not one per job: each message wakes the worker.
    if (s.outbox.push(j) === 1) setImmediate(() => { if (!s.lost) s.worker.postMessage(s.outbox.splice(0)); });
    return seq;
  }

  /** Stops every worker. Open sessions stay recorded for a later close. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** Drops the jobs a worker has finished from its queue; returns how many it has left. */
  private pending(s: Slot): number {
    const done = Atomics.load(s.views.ctl, DONE);
    while (s.queue.length && s.queue[0].seq <= done) {
      const j = s.queue.shift()!;
      // A close (or an orphan's) ends the session here, whatever its outcome: the worker no longer holds it.
      if ((j.t === 'orphan' || j.frame.hook === 'close_session') && j.id) this.release(j.id, s);
    }
    return s.queue.length;
  }

  private leastBusy(): Slot {
    let best = this.slots[0];
    let bestPending = this.pending(best);
    for (const s of this.slots) {
      const p = this.pending(s);
      if (p < bestPending || (p === bestPending && s.sessions.size < best.sessions.size)) {
        best = s;
        bestPending = p;
      }
    }
    return best;
  }

  private spawn(index: number): Slot {
    const { size: _size, watchEveryMs: _w, onLost: _l, onMessage: _m, ...init } = this.options;
    const slot = new Slot(index, this.nextLockId++, init);
    slot.worker.on('message', (m: FromWorker) => this.options.onMessage(m, slot));
    slot.worker.on('error', (e) => this.lose(slot, `crashed: ${e.message}`));
    slot.worker.on('exit', (code) => this.lose(slot, `exited with status ${code}`));
    return slot;
  }

  private watch(): void {
    const now = Date.now();
    for (const s of this.slots) {
      const d = s.views.deadline[0];
      if (d > 0 && now > d) this.lose(s, `passed its hard deadline by ${Math.round(now - d)} ms`);
    }
  }

  /**
   * Puts a fresh worker in the lost one's place at once, and once the lost
   * one has stopped (no job of it can start after that), hands back what it
   * left and reports its sessions.
   */
  private lose(slot: Slot, reason: string): void {
    if (slot.lost || this.closing) return;
    slot.lost = true;
    const sessions = [...slot.sessions];
    for (const id of sessions) this.holder.delete(id);
    this.slots[slot.index] = this.spawn(slot.index);
    void slot.worker.terminate();
    void slot.exited.then(() => {
      WriteLock.freeFrom(this.options.writeLock, slot.lockId);
      const { ctl } = slot.views;
      this.pending(slot);
      const running = Atomics.load(ctl, RUNNING);
      const left: Unfinished = { wrote: Atomics.load(ctl, WROTE) === 1, queued: [] };
      for (const j of slot.queue) {
        if (j.seq === running) left.running = j;
        else left.queued.push(j);
      }
      this.options.onLost(slot.index, sessions, reason, left);
    });
  }
}
