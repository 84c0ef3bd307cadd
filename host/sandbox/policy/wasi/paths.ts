/**
 * Path resolution beneath a directory, as wasi-filesystem requires it
 * (wasi:filesystem/types, "All paths in WASI are relative paths"; and
 * path-resolution.md): a path that starts with `/`, or whose `..` or
 * symlink steps reach outside the base directory, or that meets a symlink
 * to an absolute path, fails with `not-permitted`.
 *
 * Node has no openat(2)/openat2(RESOLVE_BENEATH), so resolution is done by
 * hand, one component at a time with lstat/readlink (the "manual" way the
 * spec allows), and every open is then checked on the opened object itself:
 * /proc/self/fd/N names what the kernel actually opened, so a symlink swapped
 * in between the walk and the open (the race node:wasi loses) is caught.
 */
import { closeSync, lstatSync, openSync, readlinkSync, constants as C } from 'node:fs';
import { join, sep } from 'node:path';
import type { ErrorCode } from './types.js';

/** What jco's glue expects an import to throw for a `result` error or a stream error. */
export class WasiError extends Error {
  constructor(readonly payload: unknown, message = String(payload)) {
    super(message);
  }
}

/** Throws `code` as the error case of a `result<_, error-code>`. */
export function fail(code: ErrorCode, why?: string): never {
  throw new WasiError(code, why ?? code);
}

/** errno names (as Node reports them) to wasi:filesystem error-code cases. */
const ERRNO: Record<string, ErrorCode> = {
  EACCES: 'access', EAGAIN: 'would-block', EALREADY: 'already', EBADF: 'bad-descriptor',
  EBUSY: 'busy', EDEADLK: 'deadlock', EDQUOT: 'quota', EEXIST: 'exist', EFBIG: 'file-too-large',
  EILSEQ: 'illegal-byte-sequence', EINPROGRESS: 'in-progress', EINTR: 'interrupted',
  EINVAL: 'invalid', EIO: 'io', EISDIR: 'is-directory', ELOOP: 'loop', EMLINK: 'too-many-links',
  EMSGSIZE: 'message-size', ENAMETOOLONG: 'name-too-long', ENODEV: 'no-device',
  ENOENT: 'no-entry', ENOLCK: 'no-lock', ENOMEM: 'insufficient-memory', ENOSPC: 'insufficient-space',
  ENOTDIR: 'not-directory', ENOTEMPTY: 'not-empty', ENOTRECOVERABLE: 'not-recoverable',
  ENOTSUP: 'unsupported', EOPNOTSUPP: 'unsupported', ENOTTY: 'no-tty', ENXIO: 'no-such-device',
  EOVERFLOW: 'overflow', EPERM: 'not-permitted', EPIPE: 'pipe', EROFS: 'read-only',
  ESPIPE: 'invalid-seek', ETXTBSY: 'text-file-busy', EXDEV: 'cross-device',
};

/** Rethrows a Node system error as its error-code; anything else is a host bug and traps. */
export function rethrow(e: unknown): never {
  if (e instanceof WasiError) throw e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code && Object.hasOwn(ERRNO, code)) fail(ERRNO[code], (e as Error).message);
  if (code && /^E[A-Z0-9]+$/.test(code)) fail('io', (e as Error).message);
  throw e;
}

/** Runs a host call, mapping system errors as `rethrow` does. */
export function sys<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    rethrow(e);
  }
}

/** Most symlinks followed in one resolution, as Linux's MAXSYMLINKS (40). */
const MAX_SYMLINKS = 40;

/**
 * Resolves `path` beneath the host directory `base` (a real path, no
 * symlinks) and returns the components to append to it, themselves free of
 * symlinks except possibly the last when `follow` is false. A last
 * component that does not exist is returned as is (open-at with `create`
 * would make it; here it ends as `no-entry`).
 */
export function resolveBeneath(base: string, path: string, follow: boolean): string[] {
  if (path.startsWith('/')) fail('not-permitted', `absolute path ${path}`);
  if (path.includes('\0')) fail('invalid', 'path holds a NUL byte');
  if (path === '') fail('no-entry', 'empty path');
  // Pending components, next one last (a stack, so symlink targets are pushed in front).
  const todo = path.split('/').reverse();
  const out: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const c = todo.pop()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) fail('not-permitted', `${path} climbs out of its directory`);
      out.pop();
      continue;
    }
    out.push(c);
    const last = todo.every((t) => t === '' || t === '.');
    let st;
    try {
      st = lstatSync(join(base, ...out));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && last) return out;
      rethrow(e);
    }
    if (st.isSymbolicLink()) {
      // The final component is kept as the link itself when not following,
      // and a trailing slash ("link/") asks for the directory, so follows.
      if (last && !follow && !path.endsWith('/')) return out;
      if (++links > MAX_SYMLINKS) fail('loop', `${path}: too many symlinks`);
      const target = sys(() => readlinkSync(join(base, ...out)));
      if (target.startsWith('/')) fail('not-permitted', `${path} meets a symlink to the absolute path ${target}`);
      out.pop();
      todo.push(...target.split('/').reverse());
    } else if (!last && !st.isDirectory()) {
      fail('not-directory', `${join(...out)} is not a directory`);
    }
  }
  return out;
}

/** True when the host path `p` is `dir` or lies beneath it. */
export function isBeneath(dir: string, p: string): boolean {
  return p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

const HAVE_PROC = (() => {
  try {
    return readlinkSync('/proc/self/fd/0') !== undefined;
  } catch {
    return false;
  }
})();

/** The host path the kernel holds for `fd`, or undefined without /proc. */
export function fdPath(fd: number): string | undefined {
  return HAVE_PROC ? readlinkSync(`/proc/self/fd/${fd}`) : undefined;
}

/** A path that reaches the object open on `fd` itself, not whatever its name points to now. */
export function viaFd(fd: number, fallback: string): string {
  return HAVE_PROC ? `/proc/self/fd/${fd}` : fallback;
}

/**
 * Opens the host path `beneath/…rel` read-only and checks that what was
 * opened really lies beneath `beneath`. O_NOFOLLOW: the walk already
 * expanded every symlink, so one found now was swapped in meanwhile.
 * O_NONBLOCK: opening a FIFO must not hang the host waiting for a writer.
 * O_NOCTTY: a terminal in a granted dir must not become ours.
 */
export function openBeneath(beneath: string, rel: string[], directory: boolean): number {
  const flags = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY | (directory ? C.O_DIRECTORY : 0);
  const fd = sys(() => openSync(join(beneath, ...rel), flags));
  const real = fdPath(fd);
  if (real !== undefined && !isBeneath(beneath, real)) {
    closeSync(fd);
    fail('not-permitted', `${join(...rel)} was swapped for a path outside its directory`);
  }
  return fd;
}
