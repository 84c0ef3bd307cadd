/**
 * An engine's park registry: lines whose instance is live, idle and
 * parkable, least recently used first (a Set keeps insertion order; a call
 * takes its line out and puts it back at the end). Held weakly: a session
 * its host drops without `end()` is collected as before; the entries it
 * leaves, emptied references, are swept once the set has doubled since the
 * last sweep (a FinalizationRegistry entry per line cost each session more
 * than its lines' own bookkeeping). One registry per engine (host/engine),
 * so parking in one engine never touches another's sessions.
 */
import type { Parked } from '../sandbox/index.js';

/** What the registry parks: a stack line's live instance and the meter that can set it aside. */
export interface IdleLine {
  instance?: unknown;
  meter?: { park(): Parked };
  parked?: Parked;
  /** The registry's weak reference to this line, made at its first idle time (a line belongs to one engine's registry). */
  idleRef?: WeakRef<IdleLine>;
}

/** Idle entries below which the set is never swept. */
const MIN_SWEEP = 1024;

export class ParkRegistry {
  private readonly idle = new Set<WeakRef<IdleLine>>();
  /** The set's size at which emptied references are swept next. */
  private sweepAt = MIN_SWEEP;
  /** Instances parked and woken so far (for the bench and tests). */
  readonly counts = { parked: 0, woken: 0 };

  markIdle(line: IdleLine): void {
    let ref = line.idleRef;
    if (!ref) {
      ref = line.idleRef = new WeakRef(line);
      if (this.idle.size >= this.sweepAt) this.sweep();
    }
    this.idle.delete(ref);
    this.idle.add(ref);
  }

  /** Drops the references whose line was collected; the next sweep waits until the set doubles. */
  private sweep(): void {
    for (const ref of this.idle) if (ref.deref() === undefined) this.idle.delete(ref);
    this.sweepAt = Math.max(MIN_SWEEP, 2 * this.idle.size);
  }

  markBusy(line: IdleLine): void {
    const ref = line.idleRef;
    if (ref) this.idle.delete(ref);
  }

  /**
   * Parks up to `max` idle instances, least recently used first: each
   * becomes a copy of the memory pages that hold something and of its
   * globals (InstanceMeter.park), its memory goes back to the engine's pool,
   * and the next call on its line makes it again as it was. Returns how many
   * were parked.
   */
  parkIdle(max = Infinity): number {
    let parked = 0;
    for (const ref of this.idle) {
      if (parked >= max) break;
      this.idle.delete(ref);
      const line = ref.deref();
      if (!line?.instance || !line.meter) continue;
      this.park(line);
      parked++;
    }
    return parked;
  }

  /** Parks one line's live instance now (its meter keeps the copy); the line is no longer idle. */
  park(line: IdleLine): void {
    if (!line.meter) return;
    this.markBusy(line);
    line.parked = line.meter.park();
    line.instance = undefined;
    this.counts.parked++;
  }
}
