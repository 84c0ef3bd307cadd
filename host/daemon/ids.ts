/**
 * Session ids, and which worker holds a session's instances. An id is a
 * random UUID, then the daemon run's token and the generation of the
 * worker that opened it: `<uuid>.<token>-<gen>`. A close names its session
 * by id (pam_wasm.so keeps it on the handle), so any worker that accepts
 * the close knows where the instances are without asking anyone: at the
 * worker index whose current generation is `gen`. None is when the worker
 * was lost or the id is from another run of the daemon; the close then
 * runs on fresh instances from the registry.
 */
import { randomBytes, randomUUID } from 'node:crypto';

export const newRunToken = (): string => randomBytes(4).toString('hex');

export class SessionIds {
  private readonly gens: Int32Array;

  constructor(private readonly token: string, gens: SharedArrayBuffer) {
    this.gens = new Int32Array(gens);
  }

  static shared(workers: number): SharedArrayBuffer {
    return new SharedArrayBuffer(4 * workers);
  }

  /** A new session's id, held by the worker of generation `gen`. */
  newId(gen: number): string {
    return `${randomUUID()}.${this.tagOf(gen)}`;
  }

  /** The suffix of the ids of sessions opened by the worker of generation `gen`. */
  tagOf(gen: number): string {
    return `${this.token}-${gen}`;
  }

  /** The index of the worker holding `id`'s instances, if one of this run still lives. */
  holder(id: string): number | undefined {
    const dot = id.lastIndexOf('.');
    const dash = id.lastIndexOf('-');
    if (dot < 0 || dash < dot || id.slice(dot + 1, dash) !== this.token) return undefined;
    const gen = Number(id.slice(dash + 1));
    if (!Number.isInteger(gen) || gen <= 0) return undefined;
    const index = this.gens.indexOf(gen);
    return index < 0 ? undefined : index;
  }

  /** Worker `index` now runs generation `gen` (0: none, while it is replaced). */
  set(index: number, gen: number): void {
    Atomics.store(this.gens, index, gen);
  }
}
