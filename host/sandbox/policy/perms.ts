/**
 * Root's rule for files that decide who logs in: when the host runs as root,
 * a stack file or module must be owned by root and not writable by group or
 * others, and so must every folder above it, as OpenPAM
 * (openpam_check_path_owner_perms) and sshd's StrictModes require. A folder
 * with the sticky bit (/tmp) is accepted: others cannot replace what root
 * owns in it.
 *
 * The rule judges the file that is read, never a path: `readCheckedFile`
 * opens the path once, judges the open descriptor (fstat: owner, mode, a
 * regular file), finds where that descriptor lives (/proc/self/fd/N, a path
 * without symlinks), walks the folders of that place, checks that both the
 * path asked for and that place still lead to the descriptor's device and
 * inode, and only then reads, from the same descriptor. A path that leads
 * elsewhere than the file opened (someone swapping it meanwhile, e.g. a
 * user's file and a symlink to root's module in a sticky folder) is refused.
 * Judging a path and then reading another open (realpath, then a walk, then
 * a read) let a user who swaps the path in a loop have their file judged as
 * root's and run as root.
 *
 * Why the walk of the descriptor's place is enough: the file is root's and
 * closed to others (fstat), and each folder on its place is root's and
 * closed to others or sticky; a non-root user can then neither change the
 * bytes nor have put the file there. Nothing else (the path asked for,
 * symlinks it went through) decides what is read.
 *
 * Placing the descriptor (a readlink in /proc, about 12 us) and the folder
 * walk (an lstat per folder) are kept as a verdict for at most VERDICT_MS,
 * bound to the identity of the file judged (owner.ts `fileIdentity`: device,
 * inode, size, mode, owner, times), and only for a file with one name
 * (nlink 1): another file, or the same file changed or linked elsewhere (a
 * link moves ctime and nlink), places and walks again. Why a kept verdict still places the file: with
 * one name, in folders only root can write (or sticky, where only the
 * file's owner, root, may rename it), no one else can have moved it. What
 * the kept verdict leaves out is root opening a folder meanwhile, refused
 * once the verdict is VERDICT_MS old. The path must lead to the descriptor
 * every time, kept verdict or not; a file that disagrees with its path
 * drops its verdict.
 *
 * The component cache (host/loader/cache.ts) reads through the same
 * function, with its owner being the user the host runs as. The owner and
 * mode rule itself is owner.ts `ownerModeProblem`, the only copy.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, statSync, type BigIntStats } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { ResourceLimitError, UnsafePermissionsError } from '../../errors/index.js';
import { fileIdentity, ownerModeProblem } from './owner.js';

/** True when the host should apply the rule: it runs as root. */
export const strictByDefault = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Passing placements and walks are kept in `ReadRule.verdicts` (an engine's,
 * host/engine): the identity of a file with one name → when it was judged.
 * Without one, nothing is kept from one read to the next.
 */
const VERDICT_MS = 1000;
const MAX_VERDICTS = 4096;

/** A verdict's key: the rule's owner (a verdict under one rule says nothing under another) and the file's identity. */
const verdictKey = (owner: number, id: string) => `${owner}|${id}`;
const sameFile = (a: { dev: bigint; ino: bigint }, b: { dev: bigint; ino: bigint }) => a.dev === b.dev && a.ino === b.ino;

export interface ReadRule {
  /** What the file is, for messages: `stack file`, `module`, `cache file`. */
  what: string;
  /** Apply the owner rule (as root: always for stack files and modules). Without it the file is only opened and read. */
  strict: boolean;
  /** The owner the file (and any folder above it, besides root) must have. Default 0, root. */
  owner?: number;
  /** Refuse a path whose last component is a symlink (O_NOFOLLOW). */
  noFollow?: boolean;
  /**
   * Called with the judged descriptor's stat and its identity (owner.ts
   * `fileIdentity`, worked out once for the caller and the verdicts): true
   * means the caller holds what the file says already (it is unchanged), so
   * nothing is read.
   */
  unchanged?: (st: BigIntStats, id: string) => boolean;
  /** Where passing verdicts are kept (see above). Default: not kept. */
  verdicts?: Map<string, number>;
  /** A file larger than this is refused before it is read (`ERR_PAMWASM_RESOURCE_LIMIT`). Default: no limit. */
  maxBytes?: number;
}

export interface CheckedFile {
  /** The stat of the descriptor that was judged (and read). */
  st: BigIntStats;
  /** The file's bytes, read from that descriptor; absent when `unchanged` said so. */
  bytes?: Buffer;
}

/**
 * Opens `path` once, judges the open file by `rule` (see the file comment)
 * and reads it from the same descriptor. Throws UnsafePermissionsError when
 * the rule refuses it, and what open and read throw (ENOENT, EACCES...; a
 * folder or other non-regular file gives EISDIR or EINVAL).
 *
 * @example
 *   const { bytes } = readCheckedFile('/etc/pamwasm/login.stack', { what: 'stack file', strict: strictByDefault() });
 */
export function readCheckedFile(path: string, rule: ReadRule): CheckedFile {
  // O_NONBLOCK: opening a FIFO put in a module's place must not hang the login.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (rule.noFollow ? constants.O_NOFOLLOW : 0));
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) {
      const e = new Error(`${path} is not a regular file`) as NodeJS.ErrnoException;
      e.code = st.isDirectory() ? 'EISDIR' : 'EINVAL';
      throw e;
    }
    const id = rule.strict || rule.unchanged ? fileIdentity(st) : '';
    if (rule.strict) judgeDescriptor(fd, path, st, id, rule);
    if (rule.unchanged?.(st, id)) return { st };
    if (rule.maxBytes !== undefined && st.size > BigInt(rule.maxBytes)) throw tooLarge(rule.what, path, Number(st.size), rule.maxBytes);
    return { st, bytes: readFileSync(fd) };
  } finally {
    closeSync(fd);
  }
}

/**
 * For a caller that holds what a file said (its hash, its parse) and would
 * read nothing: true when the path still leads to that very file
 * (`unchanged` of a stat of the path) and, under `strict`, the file passes
 * the owner and mode check and a verdict kept under VERDICT_MS ago placed
 * it, with its one name, in safe folders (see the file comment: no one
 * else can have moved it since). Nothing is read, so there is nothing to
 * swap; false means open and judge it (readCheckedFile). Costs one stat,
 * where an open and judge costs an open, an fstat, a stat and a close.
 */
export function stillJudged(path: string, rule: ReadRule & Required<Pick<ReadRule, 'unchanged'>>): boolean {
  const st = rule.noFollow ? lstatSync(path, { bigint: true, throwIfNoEntry: false }) : statSync(path, { bigint: true, throwIfNoEntry: false });
  if (!st || !st.isFile()) return false;
  const id = fileIdentity(st);
  if (!rule.unchanged(st, id)) return false;
  if (!rule.strict) return true;
  const owner = rule.owner ?? 0;
  if (problem(path, Number(st.uid), Number(st.mode), false, owner) || st.nlink !== 1n) return false;
  const kept = rule.verdicts?.get(verdictKey(owner, id));
  return kept !== undefined && performance.now() - kept < VERDICT_MS;
}

/**
 * Root's rule for the file at `path`, as `pamwasm check` reports it: the
 * file is opened and judged as readCheckedFile would, and not read. A
 * missing or unreadable file passes (whoever reads it reports that).
 */
export function checkOwnerPerms(path: string, what: string): void {
  try {
    readCheckedFile(path, { what, strict: true, unchanged: () => true });
  } catch (e) {
    if (e instanceof UnsafePermissionsError) throw e;
  }
}

/** Why the folder `dir` and those above it are unsafe for files of `owner`; undefined when they are safe. */
export function folderProblem(dir: string, owner = 0): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    // lstat: the place comes from the kernel without symlinks, so a symlink here is a swap.
    const st = lstatSync(d);
    if (!st.isDirectory()) return `${d} is no longer a folder`;
    const why = problem(d, st.uid, st.mode, true, owner);
    if (why) return why;
    if (d === dirname(d)) return undefined;
  }
}

const problem = (p: string, uid: number, mode: number, dir: boolean, owner: number) => ownerModeProblem(p, uid, mode, { dir, owner });

/** Throws UnsafePermissionsError unless the open file `fd` (stat `st`, identity `fileId`), asked for as `path`, passes the rule. */
function judgeDescriptor(fd: number, path: string, st: BigIntStats, fileId: string, rule: ReadRule): void {
  const owner = rule.owner ?? 0;
  const verdicts = rule.verdicts ?? new Map<string, number>();
  const refuse = (why: string, fix = owner === 0 ? 'pamwasm only uses files that only root can change here (chown root and chmod go-w)' : 'remove it') =>
    new UnsafePermissionsError(`refusing ${rule.what} ${path}: ${why}; ${fix}.`);
  const own = problem(path, Number(st.uid), Number(st.mode), false, owner);
  if (own) throw refuse(own);
  const id = verdictKey(owner, fileId);
  const swapped = () => {
    verdicts.delete(id);
    return refuse('the path led to another file than the one opened (it changed while being read)', 'make the file and the folders above it root\'s, so that no one else can replace it');
  };
  // The path asked for, followed as the open followed it, must still lead to the file opened.
  const now = rule.noFollow ? lstatSync(path, { bigint: true, throwIfNoEntry: false }) : statSync(path, { bigint: true, throwIfNoEntry: false });
  if (!now || !sameFile(now, st)) throw swapped();
  const at = performance.now();
  const kept = st.nlink === 1n ? verdicts.get(id) : undefined;
  if (kept !== undefined && at - kept < VERDICT_MS) return;
  verdicts.delete(id);
  // Where the descriptor lives, which must lead back to it.
  const place = placeOf(fd);
  if (place === null) throw refuse('where the open file lives cannot be told (no /proc/self/fd)', 'mount /proc');
  const there = place === undefined ? undefined : lstatSync(place, { bigint: true, throwIfNoEntry: false });
  if (!place || !there || !sameFile(there, st)) throw swapped();
  const why = folderProblem(dirname(place), owner);
  if (why) throw refuse(why);
  if (st.nlink !== 1n) return;
  if (verdicts.size >= MAX_VERDICTS) verdicts.clear(); // files changed since leave entries no one asks for
  verdicts.set(id, at);
}

/**
 * Where the open file `fd` lives, as the kernel names it (no symlinks);
 * undefined when it has no name (deleted: a name that really ends in
 * " (deleted)" is refused too), null when /proc cannot say.
 */
function placeOf(fd: number): string | undefined | null {
  let p: string;
  try {
    p = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
  return isAbsolute(p) && !p.endsWith(' (deleted)') ? p : undefined;
}

/**
 * A file too large to load: loading it would hold several copies of it (the
 * jco path took 7 s and 1.4 GiB for a 300 MB module, the fast path 650 MiB).
 */
export function tooLarge(what: string, where: string, size: number, max: number): ResourceLimitError {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 0)} MiB`;
  return new ResourceLimitError(`${what} ${where} is ${mib(size)}, over the ${mib(max)} the sandbox loads; ` +
    'a session module is far smaller (a JavaScript one, engine included, is about 12 MiB): check that the line names the module you meant, or strip its custom sections');
}
