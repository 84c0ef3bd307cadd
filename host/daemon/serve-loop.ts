/**
 * A stack worker's connections: it accepts them on the daemon's listening
 * socket itself (every idle worker waits on it; the first to call accept
 * gets the connection, the others find none), checks the peer with SO_PEERCRED, reads the
 * HOOK frame and serves it on this thread, so a hook costs one thread's
 * wake-up and no message between threads. The worker blocks in
 * epoll_wait(2) when it has nothing to do; its doorbell (an eventfd) wakes
 * it for a job in its mailbox or for the main thread's messages.
 *
 * The first frame must be a HOOK, and nothing may follow it before the
 * worker's reply: anything else, a malformed frame included, closes the
 * connection (the module then returns its on_unavailable code). A
 * connection whose HOOK has not fully come waits in this worker's epoll
 * set, at most `requestMs`, without holding the worker up.
 */
import { acceptConnection, closeFd, drain, Epoll, EPOLLEXCLUSIVE, EPOLLIN, readable, peerCredentials, spinReadable, pollFor, readSomeSync, ring, waitFd, type PeerCredentials } from './libc.js';
import { KIND_HOOK, Mailbox, type MailJob } from './mailbox.js';
import { FrameReader, type HookFrame } from './protocol.js';
import { MAX_WAITING } from './jobs.js';

/** How long an idle worker blocks before it gives its event loop a turn. */
const IDLE_MS = 1000;
/** How long a new connection's HOOK is waited for before the connection joins the epoll set. */
const FIRST_FRAME_MS = 100;
/** How long writes that wait may wait for a hook to ride with. */
const RIDE_MS = 3;
/** Jobs served between two turns of the event loop. */
const TURN_EVERY = 16;

export interface ServeLoopOptions {
  index: number;
  listenFd: number;
  wakeFds: number[];
  mailboxes: SharedArrayBuffer[];
  allowUids: ReadonlySet<number>;
  requestMs: number;
  /** How long the worker polls for the next hook, after serving one, before it sleeps (while no thread waits for a CPU). */
  spinUs: number;
  /** Which worker index holds a session (ids.ts), if one does. */
  holder(id: string): number | undefined;
  /** The id of the open session a close without one names ('' if none). */
  findOpen(frame: HookFrame, peerPid: number): string;
  /** Notes a connection waiting for its HOOK (`waiting`), or no longer: the main thread closes those of a lost worker. */
  track(fd: number, waiting: boolean): void;
  /** Runs one job on this worker (resolves when it is finished). */
  run(job: MailJob): Promise<void>;
  /** Whether writes wait for the next commit (they ride on the next hook's, if one comes soon). */
  pendingWrites(): boolean;
  /** Nothing to do for now: commit what waits, write the log. */
  idle(): void;
  refused(why: string): void;
}

interface Pending { cred: PeerCredentials; reader: FrameReader<'to-daemon'>; chunks: Buffer[]; until: number }

export class ServeLoop {
  readonly epoll = new Epoll();
  private readonly mailbox: Mailbox;
  private readonly boxes: Mailbox[];
  private readonly wakeFd: number;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly o: ServeLoopOptions) {
    this.boxes = o.mailboxes.map((m) => new Mailbox(m));
    this.mailbox = this.boxes[o.index];
    this.wakeFd = o.wakeFds[o.index];
    // EPOLLEXCLUSIVE: a connection wakes one idle worker, not all of them.
    // Two connections may wake the same one, though; so a worker that
    // accepts one and finds another waiting rings the next worker's
    // doorbell (accept), lest the other wait behind its hook while a worker is idle.
    this.epoll.add(o.listenFd, EPOLLIN | EPOLLEXCLUSIVE);
    this.epoll.add(this.wakeFd, EPOLLIN);
  }

  get box(): Mailbox {
    return this.mailbox;
  }

  async serve(): Promise<void> {
    let served = 0;
    // Whether the last round ran a job.
    let busy = false;
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
    // Until the main thread terminates this worker (its doorbell brings it back from epoll_wait first).
    for (;;) {
      // Jobs handed to this worker first: a close waits behind nothing but the hook running.
      const handed = this.mailbox.take();
      if (handed) {
        await this.runSafely(handed);
        busy = true;
        if (++served >= TURN_EVERY) {
          served = 0;
          await turn();
        }
        continue;
      }
      // Hooks come in runs (a session's open then its close, one login
      // after another): a worker that has just served one polls for the
      // next a little while before it sleeps, if no thread waits for a CPU, because waking
      // it from epoll_wait would cost as much as the hook.
      let ready = busy ? this.spin() : [];
      // Writes that wait go with the next hook's commit if one comes within
      // RIDE_MS (under load it does), else they are committed now.
      if (ready.length === 0 && this.o.pendingWrites()) ready = this.epoll.wait(Math.min(RIDE_MS, this.waitMs()));
      if (ready.length === 0) {
        this.o.idle();
        ready = this.epoll.wait(this.waitMs());
      }
      let woken = ready.length === 0;
      // At most one job out of a round: a job accepted but not started
      // would be lost with this worker if the one before it got stuck. The
      // events left are level-triggered: the next round has them again.
      let job: MailJob | undefined;
      for (const fd of ready) {
        if (job) break;
        if (fd === this.o.listenFd) job = this.accept();
        else if (fd === this.wakeFd) {
          drain(fd);
          woken = true;
          // A doorbell may be another worker passing on a connection.
          job = this.accept();
        } else job = this.more(fd);
      }
      this.expire();
      busy = job !== undefined;
      if (job) {
        await this.runSafely(job);
        served++;
      }
      // The doorbell may also mean a message from the main thread: the event loop delivers it.
      if (woken || served >= TURN_EVERY) {
        served = 0;
        await turn();
      }
    }
  }

  private spin(): number[] {
    return pollFor(this.o.spinUs, () => {
      const ready = this.epoll.wait(0);
      return ready.length ? ready : undefined;
    }) ?? [];
  }

  /**
   * Runs a job; a failure of the daemon's own (a registry it cannot read, a
   * bug) is logged and costs that job, not the worker and the sessions it holds.
   */
  private async runSafely(job: MailJob): Promise<void> {
    try {
      await this.o.run(job);
    } catch (e) {
      this.o.refused(`a ${job.kind === KIND_HOOK ? 'hook' : 'close'} for session ${job.id || '-'} failed: ${(e as Error).message}`);
    }
  }

  /** Takes one connection if one waits, and passes on the news of the next. */
  private accept(): MailJob | undefined {
    const c = acceptConnection(this.o.listenFd);
    if (c < 0) return undefined;
    if (this.o.wakeFds.length > 1 && readable(this.o.listenFd)) ring(this.o.wakeFds[(this.o.index + 1) % this.o.wakeFds.length]);
    try {
      return this.admit(c);
    } catch (e) {
      // Nothing of it is anywhere else yet: the module sees the end of the stream.
      this.forget(c);
      closeFd(c);
      this.o.refused(`a connection could not be read: ${(e as Error).message}`);
      return undefined;
    }
  }

  private waitMs(): number {
    let until = Infinity;
    for (const p of this.pending.values()) until = Math.min(until, p.until);
    return until === Infinity ? IDLE_MS : Math.max(0, Math.min(IDLE_MS, Math.ceil(until - Date.now())));
  }

  /** A new connection: its peer checked, then its HOOK read if it has come. */
  private admit(fd: number): MailJob | undefined {
    const cred = peerCredentials(fd);
    if (!cred || (cred.uid !== 0 && !this.o.allowUids.has(cred.uid))) {
      this.o.refused(cred ? `peer uid ${cred.uid} pid ${cred.pid} is not allowed` : 'peer credentials unavailable');
      closeFd(fd);
      return undefined;
    }
    const p: Pending = { cred, reader: new FrameReader('to-daemon'), chunks: [], until: Date.now() + this.o.requestMs };
    // The module sends its HOOK right after connect(), so it is here or
    // about to be: waiting for it here costs one poll(2). Only a peer that
    // is slow to send (allowed by uid, so a local application) goes to the
    // epoll set, where it waits without holding this worker up, though it
    // waits behind the hook this worker runs next.
    let got = this.take(fd, p);
    const until = Date.now() + FIRST_FRAME_MS;
    while (got === 'more' && (spinReadable(fd, this.o.spinUs) || waitFd(fd, false, until - Date.now()))) got = this.take(fd, p);
    if (got !== 'more') return got;
    if (this.pending.size >= MAX_WAITING || !this.epoll.add(fd, EPOLLIN)) {
      this.o.refused(`pid ${cred.pid}: too many connections waiting for their request`);
      closeFd(fd);
      return undefined;
    }
    this.pending.set(fd, p);
    this.o.track(fd, true);
    return undefined;
  }

  private more(fd: number): MailJob | undefined {
    const p = this.pending.get(fd);
    if (!p) return undefined;
    let got;
    try {
      got = this.take(fd, p);
    } catch (e) {
      this.forget(fd);
      closeFd(fd);
      this.o.refused(`pid ${p.cred.pid}: the connection could not be read: ${(e as Error).message}`);
      return undefined;
    }
    if (got === 'more') return undefined;
    this.forget(fd);
    return got;
  }

  /** Takes a connection out of the waiting ones (its descriptor is the caller's now). */
  private forget(fd: number): void {
    this.pending.delete(fd);
    this.epoll.remove(fd);
    this.o.track(fd, false);
  }

  private expire(): void {
    const now = Date.now();
    for (const [fd, p] of this.pending) {
      if (now < p.until) continue;
      this.forget(fd);
      this.o.refused(`pid ${p.cred.pid}: no request in time`);
      closeFd(fd);
    }
  }

  /** Reads what the connection holds: 'more' while its HOOK is incomplete; else the job it makes here, or undefined (refused, or handed to another worker). */
  private take(fd: number, p: Pending): 'more' | MailJob | undefined {
    for (;;) {
      const chunk = readSomeSync(fd, 0);
      if (chunk === undefined) return 'more';
      const stop = (why?: string) => {
        if (why) this.o.refused(`pid ${p.cred.pid}: ${why}`);
        closeFd(fd);
        return undefined;
      };
      if (chunk === null) return stop(p.chunks.length ? 'the connection ended inside its request' : undefined);
      p.chunks.push(chunk);
      let frames;
      try {
        frames = p.reader.push(chunk);
      } catch (e) {
        return stop(`malformed frame: ${(e as Error).message}`);
      }
      if (frames.length === 0) continue;
      const [f] = frames;
      if (f.type !== 'hook' || frames.length > 1 || p.reader.pending > 0) {
        return stop(`a ${frames.find((x, i) => i > 0 || x.type !== 'hook')?.type ?? 'partial'} frame out of turn`);
      }
      const frame = p.chunks.length === 1 ? chunk : Buffer.concat(p.chunks);
      // The kernel's pid, not the frame's: the frame's is only what the peer says.
      const peerPid = p.cred.pid;
      let id = f.hook === 'open_session' ? '' : f.sessionId;
      if (f.hook === 'close_session' && !id) id = this.o.findOpen(f, peerPid);
      const job = { kind: KIND_HOOK, fd, peerPid, id, frame, decoded: f } as const;
      const holder = f.hook === 'close_session' && id ? this.o.holder(id) : undefined;
      if (holder === undefined || holder === this.o.index) return job;
      this.handTo(holder, job);
      return undefined;
    }
  }

  /** A close of a session another worker holds: to its mailbox, and its doorbell rung. */
  private handTo(index: number, job: MailJob & { kind: typeof KIND_HOOK }): void {
    if (this.boxes[index].put(job)) {
      ring(this.o.wakeFds[index]);
      return;
    }
    // Its mailbox is full (the worker is stuck): the close fails closed, and the session stays open for a later close.
    this.o.refused(`pid ${job.peerPid}: worker ${index} holds session ${job.id} and its mailbox is full`);
    closeFd(job.fd);
  }
}
