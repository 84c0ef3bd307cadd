/**
 * The stack workers and their watchdog. Stacks run in worker threads so
 * that a hook that outruns every in-thread limit (the backstop case: a
 * bug in the meter, a host call that never returns) costs one worker, not
 * the daemon: the watchdog terminates a worker past its hard deadline,
 * fails the hooks it was running, reports the sessions it held (their
 * closes then run on fresh instances from the registry) and starts a new
 * worker in its place. Other workers and their sessions are untouched.
 */
import { Worker } from 'node:worker_threads';
import { ANSWER_GIVEN, ANSWER_BYTES, RUNNING, SHARED_BYTES, sharedViews, type Done, type FromWorker, type Job, type WorkerEvent, type WorkerInit } from './jobs.js';

/** A hook lost with its worker (terminated by the watchdog, or crashed). */
export class WorkerLostError extends Error {
  readonly code = 'ERR_WORKER_LOST';
  /** Whether the job had started: one that had not can run on another worker. */
  constructor(message: string, readonly started: boolean) {
    super(message);
  }
}

interface Pending {
  job: Job;
  onEvent: (e: WorkerEvent, slot: Slot) => void;
  resolve: (d: Done) => void;
  reject: (e: Error) => void;
}

export class Slot {
  readonly worker: Worker;
  readonly views: ReturnType<typeof sharedViews>;
  readonly pending = new Map<number, Pending>();
  /** Open sessions whose instances live in this worker. */
  readonly sessions = new Set<string>();
  /** Jobs of this event-loop turn, posted together at its end. */
  outbox: Job[] = [];
  lost = false;

  constructor(readonly index: number, init: Omit<WorkerInit, 'shared'>) {
    const shared = new SharedArrayBuffer(SHARED_BYTES);
    this.views = sharedViews(shared);
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { ...init, shared } });
  }
}

export interface PoolOptions extends Omit<WorkerInit, 'shared'> {
  size: number;
  /** How often the watchdog looks at the workers' deadlines. */
  watchEveryMs?: number;
  /** A worker was lost: `sessions` were open in it, `reason` says why. */
  onLost?: (index: number, sessions: string[], reason: string) => void;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly holder = new Map<string, Slot>();
  private readonly timer: NodeJS.Timeout;
  private nextRid = 1;
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

  /** Runs a job: on `slot` (a close of a session it holds), else on the least busy worker. */
  run(job: Job, onEvent: (e: WorkerEvent, slot: Slot) => void, slot?: Slot): Promise<{ done: Done; slot: Slot }> {
    const s = slot ?? this.leastBusy();
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      s.pending.set(rid, {
        job, onEvent, reject,
        resolve: (done) => {
          if (job.t === 'open' && done.code === 0) {
            s.sessions.add(job.id);
            this.holder.set(job.id, s);
          } else if (job.t === 'close') {
            s.sessions.delete(job.id);
            this.holder.delete(job.id);
          }
          resolve({ done, slot: s });
        },
      });
      // One message per turn, not one per job: each message wakes the
      // worker, and a wake-up costs more than the job's own posting.
      if (s.outbox.push({ ...job, rid }) === 1) setImmediate(() => { if (!s.lost) s.worker.postMessage(s.outbox.splice(0)); });
    });
  }

  /** Gives a waiting prompt its answer (`code` 0 and the text, or the conversation's failure). */
  answer(slot: Slot, seq: number, code: number, text: string): void {
    const { ctl, answer } = slot.views;
    if (slot.lost || Atomics.load(ctl, 3) !== seq) return;
    const { written } = new TextEncoder().encodeInto(text, answer);
    ctl[1] = code;
    ctl[2] = Math.min(written ?? 0, ANSWER_BYTES);
    Atomics.store(ctl, 0, ANSWER_GIVEN);
    Atomics.notify(ctl, 0);
  }

  /** Stops every worker. Open sessions stay recorded for a later close. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private leastBusy(): Slot {
    let best = this.slots[0];
    for (const s of this.slots) {
      if (s.pending.size < best.pending.size || (s.pending.size === best.pending.size && s.sessions.size < best.sessions.size)) best = s;
    }
    return best;
  }

  private spawn(index: number): Slot {
    const { size: _size, watchEveryMs: _w, onLost: _l, ...init } = this.options;
    const slot = new Slot(index, init);
    slot.worker.on('message', (batch: FromWorker[]) => {
      for (const m of batch) {
        if (m.t === 'ready') continue;
        const p = slot.pending.get(m.rid);
        if (!p) continue;
        if (m.t === 'done') {
          slot.pending.delete(m.rid);
          p.resolve(m);
        } else {
          p.onEvent(m, slot);
        }
      }
    });
    slot.worker.on('error', (e) => this.lose(slot, `crashed: ${e.message}`));
    slot.worker.on('exit', (code) => this.lose(slot, `exited with status ${code}`));
    return slot;
  }

  private watch(): void {
    const now = Date.now();
    for (const s of this.slots) {
      const d = s.views.deadline[0];
      if (d > 0 && now > d) {
        this.lose(s, `passed its hard deadline by ${Math.round(now - d)} ms`);
        void s.worker.terminate();
      }
    }
  }

  /** Fails the worker's hooks, reports its sessions, and puts a fresh worker in its place. */
  private lose(slot: Slot, reason: string): void {
    if (slot.lost || this.closing) return;
    slot.lost = true;
    slot.views.deadline[0] = 0;
    const sessions = [...slot.sessions];
    for (const id of sessions) this.holder.delete(id);
    this.slots[slot.index] = this.spawn(slot.index);
    const running = Atomics.load(slot.views.ctl, RUNNING);
    for (const [rid, p] of slot.pending) p.reject(new WorkerLostError(`worker ${slot.index} ${reason}`, rid === running));
    slot.pending.clear();
    this.options.onLost?.(slot.index, sessions, reason);
  }
}
