/**
 * The one owner-and-mode rule and the one file identity of pamwasm's file
 * trust: every check of who owns a file or folder and who may write it
 * (perms.ts for stack files, modules and cache files; the component cache's
 * own folder, host/loader/cache.ts; the exec script's V8 code cache,
 * bin/pamwasm.js) asks `ownerModeProblem`, and every "is this still the
 * file I judged/hashed" asks `fileIdentity`.
 *
 * This file imports nothing: `npm run build` also bundles it alone as
 * dist/owner-rule.cjs (host/build/bundle-exec.ts), which bin/pamwasm.js
 * requires before any of dist's ES modules are loaded.
 */

/** Write access for the group or others. */
export const WRITABLE_BY_OTHERS = 0o022;
const STICKY = 0o1000;
const TYPE_MASK = 0o170000;
const REGULAR = 0o100000;
const DIRECTORY = 0o040000;

/**
 * Why `path` (owner `uid`, `mode` as stat gives it) must not be trusted for
 * files of `owner`; undefined when it may. A file must be `owner`'s and not
 * writable by its group or others. A folder (`dir`) may also be root's, and
 * may be writable by others when sticky (/tmp): others cannot replace what
 * `owner` has in it. With `kind`, the file type must match too (a regular
 * file, or a folder for `dir`).
 */
export function ownerModeProblem(path: string, uid: number, mode: number, o: { dir: boolean; owner: number; kind?: boolean }): string | undefined {
  if (o.kind && (mode & TYPE_MASK) !== (o.dir ? DIRECTORY : REGULAR)) return `${path} is not a ${o.dir ? 'folder' : 'regular file'}`;
  if (uid !== o.owner && !(o.dir && uid === 0)) return `${path} is owned by uid ${uid}, not ${o.owner === 0 ? 'root' : `uid ${o.owner}`}`;
  if (mode & WRITABLE_BY_OTHERS && !(o.dir && mode & STICKY)) {
    return `${path} is writable by ${mode & 0o002 ? 'others' : 'its group'} (mode ${(mode & 0o7777).toString(8)})`;
  }
  return undefined;
}

/** The stat fields a file identity is made of (a bigint stat). */
export interface IdentityStat { dev: bigint; ino: bigint; size: bigint; mode: bigint; uid: bigint; gid: bigint; mtimeNs: bigint; ctimeNs: bigint }

/**
 * A file's identity: the same device, inode, size, mode, owner, group,
 * mtime and ctime (ns) means the same, unchanged file. Replacing a file (a
 * rename over it) gives a new inode; writing it, or a chmod, chown or link,
 * moves its ctime, which user space cannot set. Whoever keeps something
 * about a file (its hash: loader/files.ts; a parse: stack/parse.ts; a
 * verdict: perms.ts) keys it by this.
 */
export const fileIdentity = (st: IdentityStat): string =>
  `${st.dev}:${st.ino}:${st.size}:${st.mode}:${st.uid}:${st.gid}:${st.mtimeNs}:${st.ctimeNs}`;
