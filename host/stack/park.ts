/**
 * An engine's park registry: lines whose instance is live, idle and
 * parkable, least recently used first (a Set keeps insertion order; a call
 * takes its line out and puts it back at the end). Held weakly: a session
 * its host drops without `end()` is collected as before. Each entry reaches
 * its line through one weak reference to the lines of its session (a
 * WeakRef costs about a microsecond to make, and a FinalizationRegistry
 * entry more: one per session, not one per line); the entries a dropped
 * session leaves are swept once the set has doubled since the last sweep.
 * One registry per engine (host/engine), so parking in one engine never
 * touches another's sessions.
 */
import type { Parked } from '../sandbox/index.js';

/** What the registry parks: a stack line's live instance and the meter that can set it aside. */
export interface IdleLine {
  instance?: unknown;
  meter?: { park(): Parked };
  parked?: Parked;
  /** The line's entry in its engine's registry, made at its first idle time (a line belongs to one engine). */
  idleEntry?: IdleEntry;
}

/** One line's place in the registry: its session's lines, held weakly, and its index there. */
interface IdleEntry {
  readonly lines: WeakRef<readonly IdleLine[]>;
  readonly index: number;
}

/** Idle entries below which the set is never swept. */
const MIN_SWEEP = 1024;

export class ParkRegistry {
  private readonly idle = new Set<IdleEntry>();
  /** Each session's lines, weakly, for the entries of its lines. */
  private readonly sessions = new WeakMap<readonly IdleLine[], WeakRef<readonly IdleLine[]>>();
  /** The set's size at which the entries of collected sessions are swept next. */
  private sweepAt = MIN_SWEEP;
  /** Instances parked and woken so far (for the bench and tests). */
  readonly counts = { parked: 0, woken: 0 };

  /** Line `index` of a session's `lines` is idle now: the most recently used. */
  markIdle(lines: readonly IdleLine[], index: number): void {
    const line = lines[index];
    let entry = line.idleEntry;
    if (!entry) {
      let ref = this.sessions.get(lines);
      if (!ref) this.sessions.set(lines, ref = new WeakRef(lines));
      entry = line.idleEntry = { lines: ref, index };
      if (this.idle.size >= this.sweepAt) this.sweep();
    }
    this.idle.delete(entry);
    this.idle.add(entry);
  }

  /** Drops the entries whose session was collected; the next sweep waits until the set doubles. */
  private sweep(): void {
    for (const entry of this.idle) if (entry.lines.deref() === undefined) this.idle.delete(entry);
    this.sweepAt = Math.max(MIN_SWEEP, 2 * this.idle.size);
  }

  markBusy(line: IdleLine): void {
    const entry = line.idleEntry;
    if (entry) this.idle.delete(entry);
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
    for (const entry of this.idle) {
      if (parked >= max) break;
      this.idle.delete(entry);
      const line = entry.lines.deref()?.[entry.index];
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
