/**
 * Host side of wasi:io 0.2 (error, poll, streams) for the sandbox.
 *
 * Every stream here is synchronous: files are read with pread(2) on the
 * calling thread and output goes to an in-memory sink, so a stream is always
 * ready and its pollable never blocks. Only a clock's pollable (given only
 * with the clocks grant) can make `block`/`poll` wait; the wait blocks the
 * thread, as a native module's nanosleep would, and the host's time limit
 * is what bounds it.
 */
import { WasiError } from './paths.js';
import type { ErrorCode } from './types.js';

/** wasi:io/error `error`: the detail of a `last-operation-failed` stream error. */
export class IoError {
  constructor(readonly code: ErrorCode | undefined, private readonly text: string) {}
  /** Free-form, for logs only (the spec says so: never to be parsed). */
  toDebugString(): string {
    return this.text;
  }
}

/** stream-error::closed: the stream ended (EOF) or its sink is gone. */
export function streamClosed(): never {
  throw new WasiError({ tag: 'closed' }, 'stream closed');
}

/** stream-error::last-operation-failed, carrying a filesystem error-code for `filesystem-error-code`. */
export function streamFailed(code: ErrorCode | undefined, text: string): never {
  throw new WasiError({ tag: 'last-operation-failed', val: new IoError(code, text) }, text);
}

/** Monotonic nanoseconds, the unit of wasi:clocks/monotonic-clock `instant`. */
export const monotonicNow = (): bigint => process.hrtime.bigint();

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * wasi:io/poll `pollable`. Without a deadline it is always ready (every
 * stream here is); with one (a monotonic-clock subscription) it becomes
 * ready when the monotonic clock reaches it.
 */
export class Pollable {
  constructor(private readonly deadline?: bigint) {}
  ready(): boolean {
    return this.deadline === undefined || monotonicNow() >= this.deadline;
  }
  block(): void {
    while (!this.ready()) {
      const ms = Number((this.deadline! - monotonicNow()) / 1_000_000n) + 1;
      Atomics.wait(sleeper, 0, 0, Math.max(1, ms));
    }
  }
  /** Nanoseconds until ready (0 when ready). */
  remaining(): bigint {
    if (this.deadline === undefined) return 0n;
    const left = this.deadline - monotonicNow();
    return left > 0n ? left : 0n;
  }
}

/** wasi:io/poll `poll`: waits until at least one is ready; returns the indices of the ready ones. */
export function poll(list: Pollable[]): Uint32Array {
  // The spec has the list non-empty ("waits until one or more ... is ready"):
  // an empty one would wait forever, so trap as wasmtime does.
  if (list.length === 0) throw new WebAssembly.RuntimeError('wasi:io/poll poll called with no pollables');
  for (;;) {
    const ready = list.flatMap((p, i) => (p.ready() ? [i] : []));
    if (ready.length > 0) return Uint32Array.from(ready);
    const soonest = list.reduce((m, p) => (p.remaining() < m ? p.remaining() : m), list[0].remaining());
    Atomics.wait(sleeper, 0, 0, Math.max(1, Number(soonest / 1_000_000n) + 1));
  }
}

/** Largest read handed back in one call; the spec lets a read return fewer bytes than asked. */
export const MAX_READ = 64 * 1024;

/** Where an input stream's bytes come from. `read` returns null at the end. */
export interface ByteSource {
  read(len: number): Uint8Array | null;
  close?(): void;
}

/** Where an output stream's bytes go. */
export interface ByteSink {
  write(bytes: Uint8Array): void;
}

const clamp = (len: bigint) => (len > BigInt(MAX_READ) ? MAX_READ : Number(len));

/** wasi:io/streams `input-stream`. */
export class InputStream {
  constructor(private readonly source: ByteSource) {}
  read(len: bigint): Uint8Array {
    if (len === 0n) return new Uint8Array(0);
    const bytes = this.source.read(clamp(len));
    if (bytes === null) streamClosed();
    return bytes;
  }
  blockingRead(len: bigint): Uint8Array {
    return this.read(len);
  }
  skip(len: bigint): bigint {
    return BigInt(this.read(len).length);
  }
  blockingSkip(len: bigint): bigint {
    return this.skip(len);
  }
  subscribe(): Pollable {
    return new Pollable();
  }
  [Symbol.dispose](): void {
    this.source.close?.();
  }
}

/** How many bytes `check-write` allows at once (wasmtime's is 4096 too). */
const WRITE_BUDGET = 4096n;

/** wasi:io/streams `output-stream`. Writes never block and never fail: the sink decides what is kept. */
export class OutputStream {
  constructor(private readonly sink: ByteSink) {}
  checkWrite(): bigint {
    return WRITE_BUDGET;
  }
  write(contents: Uint8Array): void {
    // The glue may hand a view of guest memory: copy before keeping it.
    this.sink.write(contents.slice());
  }
  blockingWriteAndFlush(contents: Uint8Array): void {
    this.write(contents);
  }
  flush(): void {}
  blockingFlush(): void {}
  subscribe(): Pollable {
    return new Pollable();
  }
  writeZeroes(len: bigint): void {
    this.sink.write(new Uint8Array(Number(len > WRITE_BUDGET ? WRITE_BUDGET : len)));
  }
  blockingWriteZeroesAndFlush(len: bigint): void {
    this.writeZeroes(len);
  }
  splice(src: InputStream, len: bigint): bigint {
    const bytes = src.read(len);
    this.sink.write(bytes);
    return BigInt(bytes.length);
  }
  blockingSplice(src: InputStream, len: bigint): bigint {
    return this.splice(src, len);
  }
}

/** A source that is already at its end: stdin of a session module. */
export const EMPTY_SOURCE: ByteSource = { read: () => null };
