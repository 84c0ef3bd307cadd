/**
 * The open blocks of a body walk (body-walk.ts): their kinds, the wrapped
 * loops among them (a branch that leaves one is relabelled, see
 * `FuelCode.wrapStart`), and the fuel region each open loop interrupted.
 */
import { ResourceLimitError } from '../../errors/index.js';
import { MAX_NESTING, WRAP_LABELS } from './fuel.js';

/** What an open block is. */
export const enum Kind {
  BLOCK = 0, // block, if, try, try_table
  LOOP = 1,
  /** A loop wrapped so that its out-of-fuel path sits outside it (see `FuelCode.wrapStart`). */
  WRAPPED = 2,
}

/**
 * Where a body walk is: its open blocks, and the region each open loop
 * interrupted. Reused from body to body: its arrays keep their length (only
 * the counts are reset), so a walk allocates nothing.
 */
export class Nesting {
  /** The kind of each open block, `depth` of them. */
  private readonly kinds: Kind[] = [];
  /** Wrapped loops among kinds[0..i]. */
  private readonly wrapped: number[] = [];
  depth = 0;
  /** The region each open loop interrupted, `interrupted` of them. */
  private readonly regions: number[] = [];
  private interrupted = 0;
  region = 0;
  loops = 0;

  reset(): void {
    this.depth = 0;
    this.interrupted = 0;
    this.region = 0;
    this.loops = 0;
  }

  push(kind: Kind): void {
    const n = this.depth;
    if (n >= MAX_NESTING) {
      throw new ResourceLimitError(`its blocks are nested more than ${MAX_NESTING} deep, which would take too long to compile for a time limit to hold; nest them less`);
    }
    this.kinds[n] = kind;
    this.wrapped[n] = (n > 0 ? this.wrapped[n - 1] : 0) + (kind === Kind.WRAPPED ? 1 : 0);
    this.depth = n + 1;
  }

  pop(): Kind {
    if (this.depth === 0) return Kind.BLOCK;
    return this.kinds[--this.depth];
  }

  /** A loop opens: its body is region `++loops`, and the current one resumes at its end (`resume`). */
  enterLoop(): void {
    this.regions[this.interrupted++] = this.region;
    this.region = ++this.loops;
  }

  /** A loop ends: the region it interrupted resumes. */
  resume(): void {
    this.region = this.regions[--this.interrupted];
  }

  /** How much a branch's label grows: it leaves the wrapping blocks of every wrapped loop it leaves. */
  crossed(label: number): number {
    const n = this.depth;
    if (n === 0) return 0;
    const target = n - 1 - label;
    return (this.wrapped[n - 1] - (target >= 0 ? this.wrapped[target] : 0)) * WRAP_LABELS;
  }
}
