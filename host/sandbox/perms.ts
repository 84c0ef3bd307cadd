/**
 * Root's rule for files that decide who logs in: when the host runs as root,
 * a stack file or module must be owned by root and not writable by group or
 * others, and so must every folder above it, as OpenPAM
 * (openpam_check_path_owner_perms) and sshd's StrictModes require. A folder
 * with the sticky bit (/tmp) is accepted: others cannot replace what root
 * owns in it.
 */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { UnsafePermissionsError } from '../errors/index.js';

const WRITABLE_BY_OTHERS = 0o022;
const STICKY = 0o1000;

/** True when the host should apply the rule: it runs as root. */
export const strictByDefault = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** Throws UnsafePermissionsError when `path` or a folder above it is unsafe. */
export function checkOwnerPerms(path: string, what: string): void {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return; // a missing file is reported by whoever reads it
  }
  const file = lstatSync(real);
  const problem = (p: string, st: { uid: number; mode: number }, dir: boolean) => {
    if (st.uid !== 0) return `${p} is owned by uid ${st.uid}, not root`;
    if (st.mode & WRITABLE_BY_OTHERS && !(dir && st.mode & STICKY)) {
      return `${p} is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`;
    }
    return undefined;
  };
  let why = problem(real, file, false);
  for (let dir = dirname(real); !why; dir = dirname(dir)) {
    why = problem(dir, statSync(dir), true);
    if (dir === '/') break;
  }
  if (why) {
    throw new UnsafePermissionsError(
      `refusing ${what} ${path}: ${why}; pamwasm only uses files that only root can change here (chown root and chmod go-w).`,
    );
  }
}
