/**
 * Pending files: the daemon's stack workers record a session's open and
 * its close in an append-only file of their own, one write(2) per event,
 * instead of a SQLite commit (about 6 µs instead of 45-150). The registry
 * folds these files into its database before anything reads or changes it
 * (Registry.fold), so a reader never sees less than what was recorded.
 *
 * A write(2) to a file is in the page cache when it returns: a kill -9 or a
 * crash of the daemon loses none of it, as with SQLite's WAL under
 * synchronous=NORMAL. A power loss may lose the last ones.
 *
 * A file is named `<registry>-pending-<group>-<seq>`: the group is the
 * writer's (the daemon run's token and the worker's generation), and the
 * writer starts the next seq once a file passes ROTATE_BYTES; it never
 * writes to a file again after that. Each record is a 4-byte little-endian
 * length and that many bytes of JSON. A reader stops at a record that is
 * not all there yet (a write in progress) or does not parse (the torn end
 * of a file written before a power loss).
 */
import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { ownerModeProblem } from '../sandbox/policy/owner.js';
import type { SessionRecord } from './registry.js';

/**
 * A session recorded once its open has run (as Registry.record writes it):
 * its environment and module data as the JSON the row holds, `at` the time
 * of the open.
 */
export type PendingOpen = { k: 'open'; state: 'open' | 'failed'; env: string; snapshot: string; at: string; code: number }
  & Pick<SessionRecord, 'id' | 'service' | 'user' | 'tty' | 'rhost' | 'ruser' | 'stack' | 'stackSha256' | 'moduleDir' | 'ownerPid' | 'ownerStart'>;

/** A session's close, run by the worker that held it (as Registry.closed writes it). */
export interface PendingClosed {
  k: 'closed';
  id: string;
  code: number;
  by: string;
  from: 'open' | 'closing';
  at: string;
}

export type PendingRecord = PendingOpen | PendingClosed;

/** A file starts its next seq once it is this long. */
export const ROTATE_BYTES = 1 << 20;
/** The longest record: a session's module data and environment are far smaller. */
export const MAX_RECORD_BYTES = 64 << 20;

/** What a registry's pending file names start with. */
export const pendingPrefix = (registryPath: string): string => `${basename(registryPath)}-pending-`;

/** A pending file's name, split: `<group>-<seq>` after the prefix. */
export function parsePendingName(name: string, prefix: string): { group: string; seq: number } | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const m = /^(.+)-(\d{1,9})$/.exec(name.slice(prefix.length));
  return m ? { group: m[1], seq: Number(m[2]) } : undefined;
}

const isText = (v: unknown): v is string => typeof v === 'string';
const isTextOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

/** The record, if `v` is one with every field of the right type. */
function asRecord(v: unknown): PendingRecord | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (r.k === 'closed') {
    return isText(r.id) && isInt(r.code) && isText(r.by) && (r.from === 'open' || r.from === 'closing') && isText(r.at) ? r as unknown as PendingClosed : undefined;
  }
  if (r.k !== 'open') return undefined;
  const ok = isText(r.id) && (r.state === 'open' || r.state === 'failed') && isText(r.service) && isText(r.user)
    && isTextOrNull(r.tty) && isTextOrNull(r.rhost) && isTextOrNull(r.ruser) && isText(r.stack) && isText(r.stackSha256)
    && isTextOrNull(r.moduleDir) && isText(r.env) && isText(r.snapshot) && isInt(r.ownerPid) && isText(r.ownerStart)
    && isText(r.at) && isInt(r.code);
  return ok ? r as unknown as PendingOpen : undefined;
}

/**
 * The whole records in `bytes` (read from a file at some offset), and how
 * many bytes they take: the rest is a record still being written or a
 * torn one, left for later.
 */
export function decodePending(bytes: Buffer): { records: PendingRecord[]; used: number } {
  const records: PendingRecord[] = [];
  let at = 0;
  while (bytes.length - at >= 4) {
    const n = bytes.readUInt32LE(at);
    if (n === 0 || n > MAX_RECORD_BYTES || bytes.length - at - 4 < n) break;
    let record: PendingRecord | undefined;
    try {
      record = asRecord(JSON.parse(bytes.toString('utf8', at + 4, at + 4 + n)));
    } catch {
      record = undefined;
    }
    if (!record) break;
    records.push(record);
    at += 4 + n;
  }
  return { records, used: at };
}

/** One record as it is written: its length, then its JSON. */
export function encodePending(r: PendingRecord): Buffer {
  const json = Buffer.from(JSON.stringify(r));
  if (json.length > MAX_RECORD_BYTES) throw new Error(`a pending record of ${json.length} bytes is over the ${MAX_RECORD_BYTES}-byte limit`);
  const out = Buffer.allocUnsafe(4 + json.length);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  return out;
}

/**
 * A worker's pending files: appends one record per write(2), and starts the
 * next file once this one passes ROTATE_BYTES. `onFd` hears of each new
 * descriptor (the daemon's main thread closes the last one of a lost worker).
 */
export class PendingWriter {
  private fd = -1;
  private seq = -1;
  private size = 0;

  constructor(private readonly registryPath: string, readonly group: string, private readonly onFd: (fd: number) => void = () => {}) {
    if (!/^[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)*$/.test(group)) throw new Error(`a pending file group is letters, digits, '.', '_' and single '-': got ${JSON.stringify(group)}`);
    this.next();
  }

  /** The file records go to now. */
  get path(): string {
    return `${this.registryPath}-pending-${this.group}-${this.seq}`;
  }

  /** Appends `r`; throws if the write fails (the event is then not recorded). */
  append(r: PendingRecord): void {
    const b = encodePending(r);
    // O_APPEND: a partial write leaves the file's end where the rest must go.
    for (let off = 0; off < b.length;) off += writeSync(this.fd, b, off, b.length - off);
    this.size += b.length;
    if (this.size >= ROTATE_BYTES) this.next();
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private next(): void {
    const old = this.fd;
    this.seq++;
    // O_EXCL and O_NOFOLLOW: the file is new and ours, whatever was at that path.
    this.fd = openSync(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    this.size = 0;
    this.onFd(this.fd);
    if (old >= 0) closeSync(old);
  }
}

/**
 * Reads a pending file from `offset` to its end, judging the file it
 * opened: a regular file owned by one of `owners` (the registry's owner:
 * the daemon's user; and this process's), writable by no one else. Throws a
 * message naming the file otherwise.
 */
export function readPendingFile(path: string, offset: number, owners: readonly number[]): { bytes: Buffer; size: number } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    const problem = ownerModeProblem(path, st.uid, st.mode, { dir: false, owner: owners.includes(st.uid) ? st.uid : owners[0], kind: true });
    if (problem) {
      throw new Error(`the pending file ${path} is not a regular file of uid ${owners.join(' or ')} writable only by it (${problem}): it was not written by this registry's daemon; move it away`);
    }
    const want = Math.max(0, st.size - offset);
    const bytes = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const n = readSync(fd, bytes, got, want - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return { bytes: bytes.subarray(0, got), size: offset + got };
  } finally {
    closeSync(fd);
  }
}
