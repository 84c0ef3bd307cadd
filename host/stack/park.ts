/**
 * An engine's park registry: lines whose instance is live, idle and
 * parkable, least recently used first (a Set keeps insertion order; a call
 * takes its line out and puts it back at the end). Held weakly: a session
 * its host drops without `end()` is collected as before, and its entries
 * with it. One registry per engine (host/engine), so parking in one engine
 * never touches another's sessions.
 */
import type { Parked } from '../sandbox/index.js';

/** What the registry parks: a stack line's live instance and the meter that can set it aside. */
export interface IdleLine {
  instance?: unknown;
  meter?: { park(): Parked };
  parked?: Parked;
}

export class ParkRegistry {
  private readonly idle = new Set<WeakRef<IdleLine>>();
  private readonly refs = new WeakMap<IdleLine, WeakRef<IdleLine>>();
  private readonly forget = new FinalizationRegistry<WeakRef<IdleLine>>((ref) => this.idle.delete(ref));
  /** Instances parked and woken so far (for the bench and tests). */
  readonly counts = { parked: 0, woken: 0 };

  markIdle(line: IdleLine): void {
    let ref = this.refs.get(line);
    if (!ref) {
      ref = new WeakRef(line);
      this.refs.set(line, ref);
      this.forget.register(line, ref);
    }
    this.idle.delete(ref);
    this.idle.add(ref);
  }

  markBusy(line: IdleLine): void {
    const ref = this.refs.get(line);
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
