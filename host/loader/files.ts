/**
 * Module files as the loader reads them, with the sha256 of what they hold,
 * remembered while the kernel says the file has not changed.
 *
 * Why: every session binds each stack line's module, and the loader checks
 * the file's bytes against the line's pin and its loaded components each
 * time. Reading and hashing a file that has not changed cost about 26 us for
 * a 16 KB C module and about 11 ms for a 12 MB JS one (pamwasm bench, see
 * docs/performance.md); checking that it has not changed is a
 * stat of the path while root's verdict on it is fresh (host/sandbox/policy/perms.ts
 * `stillJudged`), else an open and judge of it.
 *
 * "Unchanged" means the same file identity (host/sandbox/policy/owner.ts
 * `fileIdentity`: device, inode, size, mode, owner, mtime and ctime in ns).
 * Replacing a file (a rename over it) gives a new inode; writing it in place
 * moves its ctime, which user space cannot set. A write within one tick of
 * the kernel's coarse clock after the file was read could leave its times as
 * they were (git's "racy" index entries), so a file is remembered only when
 * its times were SETTLED_MS old as it was read.
 *
 * Sync reads: node:fs/promises costs a process that starts at every login
 * (`pamwasm exec`) a couple of ms to load, and a small file is read faster
 * than a thread-pool round trip.
 */
import type { BigIntStats } from 'node:fs';
import type { EngineState } from '../engine/state.js';
import { fileIdentity, readCheckedFile, stillJudged, tooLarge } from '../sandbox/index.js';
import { sha256 } from './names.js';

const SETTLED_MS = 2000;

/**
 * The largest module the loader reads: five times a JavaScript guest, engine
 * included (12 MiB). Loading holds several copies of a module; a 300 MB one
 * took the jco path 7 s and 1.4 GiB, the fast path 650 MiB.
 */
export const MAX_MODULE_BYTES = 64 * 2 ** 20;

/** Refuses module bytes (`where`: a path, or `<bytes>`) over MAX_MODULE_BYTES. */
export function checkModuleSize(size: number, where: string): void {
  if (size > MAX_MODULE_BYTES) throw tooLarge('module', where, size, MAX_MODULE_BYTES);
}

/** What a read keeps: the engine's known files (path → identity and sha256) and root's verdicts. */
export type FileState = Pick<EngineState, 'files' | 'verdicts'>;

/** The identity of a file whose times were SETTLED_MS old as it was read (see above); undefined otherwise. */
export function settledIdentity(st: BigIntStats, now = Date.now()): string | undefined {
  return now - Number(st.ctimeMs) >= SETTLED_MS && now - Number(st.mtimeMs) >= SETTLED_MS ? fileIdentity(st) : undefined;
}

export interface ModuleFile {
  sha256: string;
  /** The bytes, when they were read this time; absent when the file is known unchanged. */
  bytes?: Uint8Array;
}

/**
 * The sha256 of the file at `path`, and its bytes unless the file is known
 * unchanged since they were hashed. With `strict`, root's ownership rule
 * judges the open file before anything is used (host/sandbox/policy/perms.ts
 * `readCheckedFile`), known or not. Throws what open and read throw
 * (ENOENT, EISDIR, EACCES...) and UnsafePermissionsError. What is known
 * is kept in `state` (an engine's); without it, nothing is.
 */
export function readModuleFile(path: string, strict = false, state?: FileState): ModuleFile {
  const known = state?.files;
  const verdicts = state?.verdicts;
  const hit = known?.get(path);
  const unchanged = (_st: BigIntStats, id: string) => hit !== undefined && id === hit.id;
  // A known file judged under a second ago costs a stat; else it is opened and judged, and read only if it changed.
  if (hit && stillJudged(path, { what: 'module', strict, unchanged, verdicts })) return { sha256: hit.sha256 };
  const { st, bytes } = readCheckedFile(path, { what: 'module', strict, unchanged, verdicts, maxBytes: MAX_MODULE_BYTES });
  if (!bytes) return { sha256: hit!.sha256 };
  checkModuleSize(bytes.length, path); // it may have grown since its stat
  const hash = sha256(bytes);
  const id = settledIdentity(st);
  if (id) known?.set(path, { id, sha256: hash });
  else known?.delete(path);
  return { sha256: hash, bytes };
}

/** Drops what is known of `path`: its next read hashes it again. */
export function forgetModuleFile(path: string, state?: FileState): void {
  state?.files.delete(path);
}
