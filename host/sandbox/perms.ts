/**
 * Root's rule for files that decide who logs in: when the host runs as root,
 * a stack file or module must be owned by root and not writable by group or
 * others, and so must every folder above it, as OpenPAM
 * (openpam_check_path_owner_perms) and sshd's StrictModes require. A folder
 * with the sticky bit (/tmp) is accepted: others cannot replace what root
 * owns in it.
 *
 * The walk up the folders costs a realpath and a stat per folder, on every
 * session. `checkOpenFile` keeps a passing verdict for a path, bound to the
 * identity of the file behind it (device, inode, mode, owner, ctime), for at
 * most VERDICT_MS. Why that is safe: once the file and every folder above it
 * are root's and closed to others, only root can change that; a non-root
 * user can change what the path leads to only after root has opened a folder
 * to them, and then only by putting another file there (a rename, or a new
 * folder or symlink above it), which is another inode, or by changing the
 * file, which moves its ctime. Either way the identity differs and the walk
 * runs again. What the kept verdict leaves out is root opening a folder while
 * the file behind the path stays the same: that is refused once the verdict
 * is VERDICT_MS old, as the same file read again is harmless meanwhile.
 */
import { lstatSync, realpathSync, statSync, type BigIntStats } from 'node:fs';
import { dirname } from 'node:path';
import { UnsafePermissionsError } from '../errors/index.js';

const WRITABLE_BY_OTHERS = 0o022;
const STICKY = 0o1000;

/** True when the host should apply the rule: it runs as root. */
export const strictByDefault = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** Passing verdicts: path → the identity of the file behind it, and when the walk ran. */
const verdicts = new Map<string, { id: string; at: number }>();
const VERDICT_MS = 1000;

const fileIdentity = (st: BigIntStats) => `${st.dev}:${st.ino}:${st.mode}:${st.uid}:${st.ctimeNs}`;

/**
 * checkOwnerPerms for the file a caller has open (or has just stat'ed) at
 * `path`, `st` being its stat (bigint, following symlinks, as the open did).
 * The walk runs unless a verdict is kept for the same file (its owner and
 * mode are part of the identity; see the file comment).
 */
export function checkOpenFile(path: string, what: string, st: BigIntStats): void {
  const id = fileIdentity(st);
  const kept = verdicts.get(path);
  const now = performance.now();
  if (kept && kept.id === id && now - kept.at < VERDICT_MS) return;
  verdicts.delete(path);
  const walked = walk(path, what);
  // Kept only when the walk saw the very file the caller holds.
  if (walked && fileIdentity(walked) === id) verdicts.set(path, { id, at: now });
}

/** Throws UnsafePermissionsError when `path` or a folder above it is unsafe. */
export function checkOwnerPerms(path: string, what: string): void {
  walk(path, what);
}

/** checkOwnerPerms, returning the stat of the file the walk judged (undefined when there is none). */
function walk(path: string, what: string): BigIntStats | undefined {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return undefined; // a missing file is reported by whoever reads it
  }
  const file = lstatSync(real, { bigint: true });
  const problem = (p: string, st: { uid: number; mode: number }, dir: boolean) => {
    if (st.uid !== 0) return `${p} is owned by uid ${st.uid}, not root`;
    if (st.mode & WRITABLE_BY_OTHERS && !(dir && st.mode & STICKY)) {
      return `${p} is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`;
    }
    return undefined;
  };
  let why = problem(real, { uid: Number(file.uid), mode: Number(file.mode) }, false);
  for (let dir = dirname(real); !why; dir = dirname(dir)) {
    why = problem(dir, statSync(dir), true);
    if (dir === '/') break;
  }
  if (why) {
    throw new UnsafePermissionsError(
      `refusing ${what} ${path}: ${why}; pamwasm only uses files that only root can change here (chown root and chmod go-w).`,
    );
  }
  return file;
}
