/**
 * The stack workers and their watchdog, on the main thread. Stacks run in
 * worker threads so that a hook that outruns every in-thread limit (the
 * backstop case: a bug in the meter, a host call that never returns) costs
 * one worker, not the daemon: the watchdog terminates a worker past its
 * hard deadline and, once it has stopped, reports the job it was running
 * (to fail closed) and starts a new worker in its place, which takes over
 * the mailbox (mailbox.ts). Sessions the lost worker held close later on
 * fresh instances from the registry. Other workers and their sessions are
 * untouched.
 *
 * The pool needs no message from a worker to know where it is: the shared
 * block (jobs.ts) holds its deadline, and its mailbox the job it runs.
 */
import { Worker } from 'node:worker_threads';
import { closeFd, newEventFd, ring } from './libc.js';
import { SessionIds, newRunToken } from './ids.js';
import { EPOLL, PENDING, SHARED_BYTES, sharedViews, WROTE, type FromWorker, type WorkerInit } from './jobs.js';
import { Mailbox, type MailJob } from './mailbox.js';
import { WriteLock } from './write-lock.js';

/**
 * A worker's young generation. A hook's garbage dies young; a larger young
 * generation is scavenged less often for the same work, and a scavenge
 * costs what survives it, not what it frees: the daemon's CPU per session
 * under load was 5-10% lower with 48 MiB than with V8's default.
 */
const YOUNG_MB = 48;

type PoolInit = Omit<WorkerInit, 'shared' | 'index' | 'lockId' | 'gen' | 'gens' | 'token' | 'wakeFds' | 'mailboxes'>;

/** What a lost worker left: the job it was running, and whether it had written to its module. */
export interface Unfinished {
  running?: MailJob;
  wrote: boolean;
}

export class Slot {
  readonly worker: Worker;
  readonly views: ReturnType<typeof sharedViews>;
  lost = false;
  readonly exited: Promise<void>;

  constructor(readonly index: number, readonly gen: number, readonly lockId: number, init: Omit<WorkerInit, 'shared'>) {
    const shared = new SharedArrayBuffer(SHARED_BYTES);
    this.views = sharedViews(shared);
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { ...init, shared }, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }
}

export interface PoolOptions extends PoolInit {
  size: number;
  /** How often the watchdog looks at the workers' deadlines. */
  watchEveryMs?: number;
  /** A worker was lost: `tag` ends the ids of the sessions it held, `reason` says why, `left` is what it was running. */
  onLost(index: number, tag: string, reason: string, left: Unfinished): void;
  onMessage(m: FromWorker, slot: Slot): void;
}

export class WorkerPool {
  readonly ids: SessionIds;
  private readonly slots: Slot[] = [];
  /** This run's token: session ids and pending files name it (ids.ts). */
  readonly token = newRunToken();
  private readonly gens: SharedArrayBuffer;
  private readonly wakeFds: number[] = [];
  private readonly mailboxes: SharedArrayBuffer[] = [];
  private readonly boxes: Mailbox[] = [];
  private readonly timer: NodeJS.Timeout;
  private nextGen = 1;
  private nextLockId = 1;
  private turn = 0;
  private closing = false;

  constructor(private readonly options: PoolOptions) {
    this.gens = SessionIds.shared(options.size);
    this.ids = new SessionIds(this.token, this.gens);
    for (let i = 0; i < options.size; i++) {
      const fd = newEventFd();
      if (fd < 0) throw new Error('eventfd() failed: the daemon cannot wake its workers');
      this.wakeFds.push(fd);
      this.mailboxes.push(Mailbox.shared());
      this.boxes.push(new Mailbox(this.mailboxes[i]));
    }
    for (let i = 0; i < options.size; i++) this.slots.push(this.spawn(i));
    this.timer = setInterval(() => this.watch(), options.watchEveryMs ?? 50);
    this.timer.unref();
  }

  get size(): number {
    return this.slots.length;
  }

  /**
   * Hands a job with no connection (an orphan's close) to the worker
   * holding its session, else to the workers in turn; false when that
   * worker's mailbox is full (try again later).
   */
  hand(job: MailJob): boolean {
    const i = this.ids.holder(job.id) ?? this.turn++ % this.slots.length;
    if (!this.boxes[i].put(job)) return false;
    ring(this.wakeFds[i]);
    return true;
  }

  /** Stops every worker. Open sessions stay recorded for a later close. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    // Each worker may be blocked in epoll_wait: its doorbell brings it back to JavaScript, where terminate() takes.
    await Promise.all(this.slots.map((s, i) => { ring(this.wakeFds[i]); return s.worker.terminate(); }));
    for (const fd of this.wakeFds) closeFd(fd);
    for (const s of this.slots) {
      const pending = Atomics.load(s.views.ctl, PENDING);
      if (pending > 0) closeFd(pending);
    }
  }

  private spawn(index: number): Slot {
    const { size: _size, watchEveryMs: _w, onLost: _l, onMessage: _m, ...init } = this.options;
    const gen = this.nextGen++;
    const lockId = this.nextLockId++;
    const slot = new Slot(index, gen, lockId, {
      ...init, index, gen, lockId, token: this.token, gens: this.gens, wakeFds: this.wakeFds, mailboxes: this.mailboxes,
    });
    this.ids.set(index, gen);
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
   * Stops the lost worker; once it has stopped (no job of it can start
   * after that), reports what it left and puts a fresh worker in its place.
   * Meanwhile a close of a session it held runs on fresh instances wherever
   * it is accepted: the index has no generation.
   */
  private lose(slot: Slot, reason: string): void {
    if (slot.lost || this.closing) return;
    slot.lost = true;
    this.ids.set(slot.index, 0);
    ring(this.wakeFds[slot.index]);
    void slot.worker.terminate();
    void slot.exited.then(() => {
      if (this.closing) return;
      WriteLock.freeFrom(this.options.writeLock, slot.lockId);
      const epoll = Atomics.load(slot.views.ctl, EPOLL);
      if (epoll > 0) closeFd(epoll);
      const pending = Atomics.load(slot.views.ctl, PENDING);
      if (pending > 0) closeFd(pending);
      // Connections it held while their HOOK came: their modules see the end of the stream.
      for (const fd of slot.views.waiting) if (fd > 0) closeFd(fd - 1);
      const box = this.boxes[slot.index];
      const left: Unfinished = { running: box.wasRunning(), wrote: Atomics.load(slot.views.ctl, WROTE) === 1 };
      box.done();
      this.options.onLost(slot.index, this.ids.tagOf(slot.gen), reason, left);
      this.slots[slot.index] = this.spawn(slot.index);
    });
  }
}
