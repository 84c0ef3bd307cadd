/**
 * A stack worker's mailbox, in shared memory: the jobs other threads hand
 * it. A close accepted by one worker for a session whose instances another
 * worker holds goes to the holder's mailbox (its descriptor with it); the
 * main thread puts the closes of sessions whose application is gone there
 * too. The mailbox outlives its worker: a worker lost with jobs in it
 * leaves them to the one that takes its place, which no longer holds their
 * sessions and so closes them on fresh instances from the registry.
 *
 * Each slot goes free -> claimed (a producer fills it) -> ready (with a
 * sequence number: jobs are taken in the order they were handed) -> free
 * (the worker copied it out). One more slot, `running`, holds the job the
 * worker is running, for the main thread to fail closed if the worker is lost.
 */
import { MAX_FRAME, type HookFrame } from './protocol.js';

const SLOTS = 32;
/** Int32 header of a slot: state, seq, kind, fd, peerPid, idLength, frameLength, from, ref. */
const HEAD = 9;
const ID_BYTES = 256;
const SLOT_BYTES = HEAD * 4 + ID_BYTES + 4 + MAX_FRAME;
/** Slot states. */
const FREE = 0;
const CLAIMED = 1;
const READY = 2;

export const KIND_HOOK = 1;
export const KIND_ORPHAN = 2;

export type ClaimState = 'opening' | 'open' | 'closing';
const STATES: ClaimState[] = ['opening', 'open', 'closing'];

/**
 * A hook with its connection (`frame`: the HOOK frame's bytes as received,
 * `id`: the session it names, '' if none; `decoded`: the frame, when the worker that read it runs it; not
 * carried through the mailbox), or a close with no connection (`from`: the states its session may be claimed from; `ref`: the main
 * thread's number for its answer).
 */
export type MailJob =
  | { kind: typeof KIND_HOOK; fd: number; peerPid: number; id: string; frame: Buffer; decoded?: HookFrame }
  | { kind: typeof KIND_ORPHAN; id: string; from: ClaimState[]; ref: number };

export class Mailbox {
  private readonly ints: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(readonly shared: SharedArrayBuffer) {
    this.ints = new Int32Array(shared);
    this.bytes = new Uint8Array(shared);
  }

  static shared(): SharedArrayBuffer {
    // One counter, then the slots and the running slot (pages untouched stay unallocated).
    return new SharedArrayBuffer(8 + (SLOTS + 1) * SLOT_BYTES);
  }

  /** Hands a job over; false when every slot is taken or the job does not fit. */
  put(job: MailJob): boolean {
    const id = Buffer.from(job.id);
    if (id.length > ID_BYTES || (job.kind === KIND_HOOK && job.frame.length > MAX_FRAME + 4)) return false;
    for (let s = 0; s < SLOTS; s++) {
      const at = this.slotInts(s);
      if (Atomics.compareExchange(this.ints, at, FREE, CLAIMED) !== FREE) continue;
      this.write(s, job, id);
      Atomics.store(this.ints, at + 1, Atomics.add(this.ints, 0, 1));
      Atomics.store(this.ints, at, READY);
      return true;
    }
    return false;
  }

  /** The oldest job waiting, taken out of the mailbox; undefined when none waits. */
  take(): MailJob | undefined {
    let best = -1;
    let bestSeq = 0;
    for (let s = 0; s < SLOTS; s++) {
      const at = this.slotInts(s);
      if (Atomics.load(this.ints, at) !== READY) continue;
      const seq = this.ints[at + 1];
      if (best < 0 || seq - bestSeq < 0) { best = s; bestSeq = seq; }
    }
    if (best < 0) return undefined;
    const job = this.read(best);
    Atomics.store(this.ints, this.slotInts(best), FREE);
    return job;
  }

  /** Records the job the worker starts running (cleared by `done`). */
  running(job: MailJob): void {
    this.write(SLOTS, job, Buffer.from(job.id));
    Atomics.store(this.ints, this.slotInts(SLOTS), READY);
  }

  done(): void {
    Atomics.store(this.ints, this.slotInts(SLOTS), FREE);
  }

  /** The job a lost worker was running, if any. */
  wasRunning(): MailJob | undefined {
    return Atomics.load(this.ints, this.slotInts(SLOTS)) === READY ? this.read(SLOTS) : undefined;
  }

  private slotInts(s: number): number {
    return (8 + s * SLOT_BYTES) / 4;
  }

  private write(s: number, job: MailJob, id: Buffer): void {
    const at = this.slotInts(s);
    const data = at * 4 + HEAD * 4;
    this.ints[at + 2] = job.kind;
    this.ints[at + 5] = id.length;
    this.bytes.set(id, data);
    if (job.kind === KIND_HOOK) {
      this.ints[at + 3] = job.fd;
      this.ints[at + 4] = job.peerPid;
      this.ints[at + 6] = job.frame.length;
      this.bytes.set(job.frame, data + ID_BYTES);
    } else {
      this.ints[at + 7] = job.from.reduce((m, f) => m | (1 << STATES.indexOf(f)), 0);
      this.ints[at + 8] = job.ref;
    }
  }

  private read(s: number): MailJob {
    const at = this.slotInts(s);
    const data = at * 4 + HEAD * 4;
    const id = Buffer.from(this.bytes.subarray(data, data + this.ints[at + 5])).toString();
    if (this.ints[at + 2] === KIND_HOOK) {
      const frame = Buffer.from(this.bytes.subarray(data + ID_BYTES, data + ID_BYTES + this.ints[at + 6]));
      return { kind: KIND_HOOK, fd: this.ints[at + 3], peerPid: this.ints[at + 4], id, frame };
    }
    const mask = this.ints[at + 7];
    return { kind: KIND_ORPHAN, id, from: STATES.filter((_, i) => mask & (1 << i)), ref: this.ints[at + 8] };
  }
}
