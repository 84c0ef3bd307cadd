/**
 * Privileges: the daemon binds its socket and prepares its folders as root,
 * then drops to its own user (default `pamwasm`), so that a V8 escape from
 * a module does not get root. Stack and module files stay root's: the
 * workers load them with strict permissions (owned by root, writable by no
 * one else, folders included), so the daemon's user cannot change them.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors/index.js';

export interface Account { name: string; uid: number; gid: number }

/** Looks a user up through NSS (getent), as the shim's getpwnam does. */
export function lookupUser(name: string): Account {
  if (/^\d+$/.test(name)) return { name, uid: Number(name), gid: Number(name) };
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
  } catch {
    throw new UsageError(`there is no user "${name}"; create it (\`pamwasm install\` makes the pamwasm system user) or pass --user NAME.`);
  }
  const f = line.split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]) };
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * The account the daemon runs as: `name` (default pamwasm) when started as
 * root; otherwise this process's own, since only root can switch.
 */
export function daemonAccount(name: string | undefined): Account {
  if (isRoot()) return lookupUser(name ?? 'pamwasm');
  const me = userInfo();
  if (name !== undefined && name !== me.username && name !== String(me.uid)) {
    throw new UsageError(`--user ${name} needs the daemon to start as root (it runs as ${me.username}); start it as root, or leave --user out.`);
  }
  return { name: me.username, uid: me.uid, gid: me.gid };
}

/**
 * Makes the registry's folder (mode 700) and gives it, and the registry's
 * files if they exist, to `account`: the daemon writes them after the drop.
 */
export function prepareRegistryDir(registry: string, account: Account): void {
  const dir = dirname(registry);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownSync(dir, account.uid, account.gid);
  for (const f of [registry, `${registry}-wal`, `${registry}-shm`]) if (existsSync(f)) chownSync(f, account.uid, account.gid);
}

/**
 * The first folder on the way to `path` (itself included) that `account`
 * may not enter, or undefined. Only its own group counts: `dropTo` drops
 * the supplementary ones.
 */
export function closedFolderOn(path: string, account: Account): string | undefined {
  for (let dir = path; ; dir = dirname(dir)) {
    const st = statSync(dir);
    const search = st.uid === account.uid ? 0o100 : st.gid === account.gid ? 0o010 : 0o001;
    if ((st.mode & search) === 0) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Refuses to start when `account` could not load the daemon's own code after
 * the drop: its workers and the native addons of better-sqlite3 and koffi
 * are loaded from the package then. A package under a folder only root may
 * enter (an app in /root) would otherwise die at its first worker.
 */
export function checkCodeReachable(account: Account): void {
  const code = [dirname(fileURLToPath(import.meta.url)), dirname(fileURLToPath(import.meta.resolve('better-sqlite3'))), dirname(fileURLToPath(import.meta.resolve('koffi')))];
  for (const dir of code) {
    const closed = closedFolderOn(dir, account);
    if (closed === undefined) continue;
    const mode = (statSync(closed).mode & 0o777).toString(8);
    throw new UsageError(`the daemon's user ${account.name} cannot enter ${closed} (mode ${mode}), on the way to ${dir}, which the daemon loads after it drops root: install pamwasm where every user may read it (npm install -g pamwasm), let others enter that folder (chmod o+x ${closed}), or pass --user root.`);
  }
}

/** Drops to `account` for good: its group alone, then its uid (setuid last, or setgid would be refused). */
export function dropTo(account: Account): void {
  process.setgroups?.([account.gid]);
  process.setgid?.(account.gid);
  process.setuid?.(account.uid);
  if (process.getuid?.() !== account.uid || process.geteuid?.() !== account.uid) {
    throw new Error(`could not drop privileges to ${account.name} (uid ${account.uid})`);
  }
}
