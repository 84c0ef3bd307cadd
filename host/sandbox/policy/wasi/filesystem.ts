/**
 * Host side of wasi:filesystem 0.2 (types, preopens), read-only, on node:fs.
 *
 * Not preview2-shim's: its preopens are process-global and it does not
 * confine paths. Here each sandbox has its own preopens (the granted host
 * directories, each named by its own path), every path is resolved beneath
 * the descriptor it is relative to (paths.ts), and nothing can be changed:
 * an open asking for write, create, truncate or exclusive, and every call
 * that would mutate (write, set-size, set-times, create-directory-at,
 * link-at, symlink-at, rename-at, unlink-file-at, remove-directory-at),
 * fails with `read-only`.
 *
 * Descriptors hold a host file descriptor, shared with the streams made from
 * them and closed when the last of those is dropped (a stream outliving its
 * descriptor must not read a recycled fd number). The sandbox's `close()`
 * closes whatever the guest never dropped.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, realpathSync, statSync, constants as C, type BigIntStats, type Dirent } from 'node:fs';
import { join, normalize } from 'node:path';
import { InputStream, IoError, MAX_READ, streamFailed, type ByteSource } from './io.js';
import { WasiError, fail, fdPath, isBeneath, openBeneath, resolveBeneath, sys, viaFd } from './paths.js';
import type {
  DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode, MetadataHashValue, OpenFlags, PathFlags,
} from './types.js';

/** Host files one sandbox may hold open at once; past it opens fail (error-code has no EMFILE). */
export const MAX_OPEN_FILES = 128;

/** One sandbox's file system: its grants and what it holds open. */
export class FsState {
  readonly open = new Set<FileHandle>();
  /** Key of the metadata hash, so hashes do not reveal host inode numbers. */
  readonly hashKey: Buffer = randomBytes(16);
  closed = false;
  /** `roots`: preopen name (as the guest sees it) to real host directory. */
  constructor(readonly roots: ReadonlyMap<string, string>) {}

  /** Closes every host file still open; later calls fail with `bad-descriptor`. */
  close(): void {
    this.closed = true;
    for (const h of [...this.open]) h.close();
  }
}

/** A host fd with a reference count (a descriptor and the streams made from it). */
class FileHandle {
  private refs = 1;
  constructor(private readonly fs: FsState, private fdNumber: number | undefined) {
    fs.open.add(this);
  }
  get fd(): number {
    if (this.fdNumber === undefined) fail('bad-descriptor', 'descriptor already closed');
    return this.fdNumber;
  }
  ref(): void {
    this.refs++;
  }
  unref(): void {
    if (--this.refs <= 0) this.close();
  }
  close(): void {
    if (this.fdNumber === undefined) return;
    closeSync(this.fdNumber);
    this.fdNumber = undefined;
    this.fs.open.delete(this);
  }
}

/** Drops references the guest never dropped, once their objects are collected. */
const collected = new FinalizationRegistry<() => void>((release) => release());

/**
 * Ties one reference to `handle` to `holder`'s life: the returned function
 * releases it (at most once), and so does collecting `holder` unreleased.
 */
function holdFor(holder: object, handle: FileHandle): () => void {
  let held = true;
  const release = () => {
    if (held) {
      held = false;
      handle.unref();
    }
  };
  collected.register(holder, release, holder);
  return () => {
    collected.unregister(holder);
    release();
  };
}

function newHandle(fs: FsState, open: () => number): FileHandle {
  if (fs.closed) fail('bad-descriptor', 'the sandbox was closed');
  if (fs.open.size >= MAX_OPEN_FILES) fail('quota', `more than ${MAX_OPEN_FILES} files open`);
  return new FileHandle(fs, open());
}

function typeOf(s: BigIntStats | Dirent): DescriptorType {
  if (s.isFile()) return 'regular-file';
  if (s.isDirectory()) return 'directory';
  if (s.isSymbolicLink()) return 'symbolic-link';
  if (s.isFIFO()) return 'fifo';
  if (s.isSocket()) return 'socket';
  if (s.isCharacterDevice()) return 'character-device';
  if (s.isBlockDevice()) return 'block-device';
  return 'unknown';
}

const datetime = (ns: bigint) => ({ seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) });

/**
 * A file's timestamps are part of what the read grant shows (a module may
 * check how old a file is); they are not a clock the module can read at
 * will, which only the clocks grant gives.
 */
function toStat(s: BigIntStats): DescriptorStat {
  return {
    type: typeOf(s),
    linkCount: s.nlink,
    size: s.size,
    dataAccessTimestamp: datetime(s.atimeNs),
    dataModificationTimestamp: datetime(s.mtimeNs),
    statusChangeTimestamp: datetime(s.ctimeNs),
  };
}

/** metadata-hash: same file, same hash (device and inode), keyed per sandbox as the spec recommends. */
function hashOf(fs: FsState, s: BigIntStats): MetadataHashValue {
  const d = createHmac('sha256', fs.hashKey).update(`${s.dev}:${s.ino}`).digest();
  return { lower: d.readBigUInt64LE(0), upper: d.readBigUInt64LE(8) };
}

const readOnly = (what: string): never => fail('read-only', `${what}: the sandbox's file system is read-only`);

/** wasi:filesystem/types `descriptor`: an open directory or file beneath a grant. */
export class Descriptor {
  private readonly release: () => void;

  /** Host-only; guests get descriptors from `get-directories` and `open-at`. Takes over the handle's reference. */
  constructor(
    private readonly fs: FsState,
    private readonly handle: FileHandle,
    /** Real host path of the object when it was opened (directories resolve paths beneath it). */
    private readonly hostPath: string,
    private readonly type: DescriptorType,
  ) {
    this.release = holdFor(this, handle);
  }

  /** The host fd; `bad-descriptor` once the sandbox was closed. */
  private get fd(): number {
    return this.handle.fd;
  }

  /** Fails as a dropped descriptor would, for calls that touch nothing. */
  private alive(): void {
    void this.handle.fd;
  }

  private directory(): string {
    if (this.type !== 'directory') fail('not-directory', `${this.hostPath} is not a directory`);
    this.alive();
    return this.hostPath;
  }

  private file(): number {
    if (this.type === 'directory') fail('is-directory', `${this.hostPath} is a directory`);
    return this.fd;
  }

  readViaStream(offset: bigint): InputStream {
    this.file();
    const handle = this.handle;
    handle.ref();
    let at = offset;
    const source: ByteSource & { close(): void } = {
      read(len) {
        let n: number;
        const buf = Buffer.alloc(len);
        try {
          n = sys(() => readSync(handle.fd, buf, 0, len, at));
        } catch (e) {
          if (e instanceof WasiError) streamFailed(e.payload as ErrorCode, e.message);
          throw e;
        }
        if (n === 0) return null;
        at += BigInt(n);
        return buf.subarray(0, n);
      },
      close: () => {},
    };
    const stream = new InputStream(source);
    source.close = holdFor(stream, handle);
    return stream;
  }
  writeViaStream(_offset: bigint): never {
    return readOnly('write-via-stream');
  }
  appendViaStream(): never {
    return readOnly('append-via-stream');
  }
  advise(_offset: bigint, _length: bigint, _advice: string): void {
    this.alive();
  }
  syncData(): void {
    this.alive();
  }
  sync(): void {
    this.alive();
  }
  getFlags(): DescriptorFlags {
    this.alive();
    return { read: true };
  }
  getType(): DescriptorType {
    this.alive();
    return this.type;
  }
  setSize(_size: bigint): never {
    return readOnly('set-size');
  }
  setTimes(_atime: unknown, _mtime: unknown): never {
    return readOnly('set-times');
  }
  read(length: bigint, offset: bigint): [Uint8Array, boolean] {
    const fd = this.file();
    const len = length > BigInt(MAX_READ) ? MAX_READ : Number(length);
    const buf = Buffer.alloc(len);
    const n = sys(() => readSync(fd, buf, 0, len, offset));
    return [buf.subarray(0, n), len > 0 && n === 0];
  }
  write(_buffer: Uint8Array, _offset: bigint): never {
    return readOnly('write');
  }
  readDirectory(): DirectoryEntryStream {
    const dir = this.directory();
    // Listed through the open fd, so a rename of the path since does not matter.
    const entries = sys(() => readdirSync(viaFd(this.fd, dir), { withFileTypes: true }));
    return new DirectoryEntryStream(entries.map((e) => ({ type: typeOf(e), name: e.name })));
  }
  createDirectoryAt(_path: string): never {
    return readOnly('create-directory-at');
  }
  stat(): DescriptorStat {
    return toStat(sys(() => fstatSync(this.fd, { bigint: true })));
  }
  statAt(pathFlags: PathFlags, path: string): DescriptorStat {
    return toStat(this.lstatAt(pathFlags, path));
  }
  setTimesAt(_pathFlags: PathFlags, _path: string, _atime: unknown, _mtime: unknown): never {
    return readOnly('set-times-at');
  }
  linkAt(_oldPathFlags: PathFlags, _oldPath: string, _newDescriptor: Descriptor, _newPath: string): never {
    return readOnly('link-at');
  }

  openAt(pathFlags: PathFlags, path: string, openFlags: OpenFlags, flags: DescriptorFlags): Descriptor {
    const dir = this.directory();
    if (openFlags.create || openFlags.truncate || openFlags.exclusive || flags.write || flags.mutateDirectory) {
      readOnly(`open-at ${path} for writing`);
    }
    const rel = resolveBeneath(dir, path, Boolean(pathFlags.symlinkFollow));
    // A last component that is a symlink (not followed) gives ELOOP under
    // O_NOFOLLOW, which is the spec's `loop` for that case; "name/" must be a directory, as in POSIX.
    const directory = Boolean(openFlags.directory) || path.endsWith('/');
    const handle = newHandle(this.fs, () => openBeneath(dir, rel, directory));
    try {
      const st = sys(() => fstatSync(handle.fd, { bigint: true }));
      const type = typeOf(st);
      const real = fdPath(handle.fd) ?? join(dir, ...rel);
      return new Descriptor(this.fs, handle, real, type);
    } catch (e) {
      handle.unref();
      throw e;
    }
  }

  readlinkAt(path: string): string {
    const dir = this.directory();
    const rel = resolveBeneath(dir, path, false);
    return sys(() => readlinkSync(join(dir, ...rel)));
  }
  removeDirectoryAt(_path: string): never {
    return readOnly('remove-directory-at');
  }
  renameAt(_oldPath: string, _newDescriptor: Descriptor, _newPath: string): never {
    return readOnly('rename-at');
  }
  symlinkAt(_oldPath: string, _newPath: string): never {
    return readOnly('symlink-at');
  }
  unlinkFileAt(_path: string): never {
    return readOnly('unlink-file-at');
  }
  isSameObject(other: Descriptor): boolean {
    const a = sys(() => fstatSync(this.fd, { bigint: true }));
    const b = sys(() => fstatSync(other.fd, { bigint: true }));
    return a.dev === b.dev && a.ino === b.ino;
  }
  metadataHash(): MetadataHashValue {
    return hashOf(this.fs, sys(() => fstatSync(this.fd, { bigint: true })));
  }
  metadataHashAt(pathFlags: PathFlags, path: string): MetadataHashValue {
    return hashOf(this.fs, this.lstatAt(pathFlags, path));
  }

  /** The resolver has already followed the symlinks `pathFlags` asks for, so lstat is right. */
  private lstatAt(pathFlags: PathFlags, path: string): BigIntStats {
    const dir = this.directory();
    const rel = resolveBeneath(dir, path, Boolean(pathFlags.symlinkFollow));
    return sys(() => lstatSync(join(dir, ...rel), { bigint: true }));
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/** wasi:filesystem/types `directory-entry-stream`: a listing taken when the directory was read. */
export class DirectoryEntryStream {
  private next = 0;
  constructor(private readonly entries: DirectoryEntry[]) {}
  readDirectoryEntry(): DirectoryEntry | undefined {
    return this.entries[this.next++];
  }
}

/** wasi:filesystem/types `filesystem-error-code`: the error-code behind a stream error, if it came from a file. */
export function filesystemErrorCode(err: IoError): ErrorCode | undefined {
  return err instanceof IoError ? err.code : undefined;
}

/**
 * wasi:filesystem/preopens `get-directories`: one descriptor per granted
 * directory, named by its host path, so a module opens "/etc/motd" as the
 * preopen "/etc" plus "motd" (wasi-libc picks the longest matching name).
 * Each call opens fresh descriptors: every one the guest gets is its own to drop.
 */
export function getDirectories(fs: FsState): [Descriptor, string][] {
  return [...fs.roots].map(([name, root]) => {
    const flags = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
    const handle = newHandle(fs, () => sys(() => openSync(root, flags)));
    const real = fdPath(handle.fd);
    if (real !== undefined && !isBeneath(root, real)) {
      handle.unref();
      throw new Error(`pamwasm: granted directory ${name} changed while it was opened`);
    }
    return [new Descriptor(fs, handle, root, 'directory'), name];
  });
}

/** Real host directories of `read` grants, by their name for the guest; throws on a grant that is no directory. */
export function grantRoots(read: readonly string[], invalid: (path: string, why: string) => Error): Map<string, string> {
  const roots = new Map<string, string>();
  for (const given of read) {
    if (!given.startsWith('/')) throw invalid(given, 'is not an absolute path');
    const name = normalize(given).replace(/(.)\/$/, '$1');
    let real: string;
    let isDir: boolean;
    try {
      real = realpathSync(given);
      isDir = statSync(real).isDirectory();
    } catch (e) {
      throw invalid(given, `cannot be opened (${(e as NodeJS.ErrnoException).code})`);
    }
    if (!isDir) throw invalid(given, 'is not a directory');
    roots.set(name, real);
  }
  return roots;
}
