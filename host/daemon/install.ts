/**
 * `pamwasm install` and `pamwasm uninstall`: lay down what pam_wasm.so and
 * the daemon need (the module in the system's PAM module folder, the
 * systemd units, /etc/pamwasm/ and the `pamwasm` system user), and take
 * away exactly what was laid down. What install made is listed in
 * /etc/pamwasm/.installed, so uninstall never removes a user or a file that
 * was there before.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pamModuleForInstall } from '../build/pam.js';
import { UsageError } from '../errors/index.js';
import { packageRoot } from '../wit/index.js';
import { SOCKET_UNIT, serviceUnit } from './units.js';

/** Where distributions keep PAM modules; the first that holds pam_permit.so wins. */
const PAM_MODULE_DIRS = [
  '/lib/x86_64-linux-gnu/security', '/usr/lib/x86_64-linux-gnu/security', '/lib/aarch64-linux-gnu/security', '/usr/lib/aarch64-linux-gnu/security',
  '/usr/lib64/security', '/lib64/security', '/usr/lib/security', '/lib/security',
];
export const DAEMON_USER = 'pamwasm';
const MANIFEST = 'etc/pamwasm/.installed';

export interface InstallOptions {
  /** Install under this folder instead of / (a package build's DESTDIR, or a test). */
  root?: string;
  /** Where the PAM module goes (default: the folder holding pam_permit.so on this system). */
  pamDir?: string;
  /** Progress lines. */
  say?: (line: string) => void;
}

interface Manifest { files: string[]; dirs: string[]; user: boolean }

export function systemPamDir(): string {
  const found = PAM_MODULE_DIRS.find((d) => existsSync(join(d, 'pam_permit.so')));
  if (!found) throw new UsageError(`no PAM module folder found (looked for pam_permit.so in ${PAM_MODULE_DIRS.join(', ')}); pass --pam-dir DIR`);
  return found;
}

const accountExists = (root: string, file: 'passwd' | 'group', name: string) =>
  existsSync(join(root, 'etc', file)) && readFileSync(join(root, 'etc', file), 'utf8').split('\n').some((l) => l.startsWith(`${name}:`));
const userExists = (root: string, name: string) => accountExists(root, 'passwd', name);

/** The useradd/userdel option that works on another root's /etc (chroot). */
const rootArgs = (root: string) => (root === '/' ? [] : ['--root', root]);

const systemdRunning = (root: string) => root === '/' && existsSync('/run/systemd/system');

export function install(o: InstallOptions = {}): Manifest {
  const root = o.root ?? '/';
  const say = o.say ?? (() => {});
  const pamModule = pamModuleForInstall(say);
  const at = (p: string) => join(root, p);
  const m: Manifest = { files: [], dirs: [], user: false };
  const put = (path: string, write: (abs: string) => void, mode: number) => {
    mkdirSync(dirname(at(path)), { recursive: true });
    write(at(path));
    chmodSync(at(path), mode);
    m.files.push(path);
    say(`installed ${at(path)}`);
  };
  const pamDir = o.pamDir ?? systemPamDir();
  put(join(pamDir, 'pam_wasm.so'), (abs) => copyFileSync(pamModule, abs), 0o644);
  put('etc/systemd/system/pamwasm.socket', (abs) => writeFileSync(abs, SOCKET_UNIT), 0o644);
  put('etc/systemd/system/pamwasm.service', (abs) => writeFileSync(abs, serviceUnit(process.execPath, join(packageRoot(), 'bin', 'pamwasm.js'), join(packageRoot(), 'docs', 'daemon.md'))), 0o644);
  if (!existsSync(at('etc/pamwasm'))) {
    mkdirSync(at('etc/pamwasm'), { recursive: true, mode: 0o755 });
    m.dirs.push('etc/pamwasm');
  }
  if (!existsSync(at('etc/pamwasm/README'))) {
    put('etc/pamwasm/README', (abs) => writeFileSync(abs, README), 0o644);
  }
  if (!userExists(root, DAEMON_USER)) {
    execFileSync('useradd', [...rootArgs(root), '--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', DAEMON_USER], { stdio: 'pipe' });
    m.user = true;
    say(`created the system user ${DAEMON_USER}`);
  }
  writeFileSync(at(MANIFEST), `${JSON.stringify(m, null, 2)}\n`, { mode: 0o644 });
  if (systemdRunning(root)) {
    execFileSync('systemctl', ['daemon-reload'], { stdio: 'pipe' });
    say('next: systemctl enable --now pamwasm.socket, then add pam_wasm.so lines to /etc/pam.d (docs/daemon.md)');
  }
  return m;
}

export function uninstall(o: InstallOptions = {}): Manifest {
  const root = o.root ?? '/';
  const say = o.say ?? (() => {});
  const at = (p: string) => join(root, p);
  if (!existsSync(at(MANIFEST))) throw new UsageError(`${at(MANIFEST)} is missing: pamwasm was not installed here by \`pamwasm install\`, so nothing is removed`);
  const m = JSON.parse(readFileSync(at(MANIFEST), 'utf8')) as Manifest;
  if (systemdRunning(root)) {
    execFileSync('systemctl', ['disable', '--now', 'pamwasm.socket', 'pamwasm.service'], { stdio: 'pipe' });
  }
  for (const f of m.files) {
    rmSync(at(f), { force: true });
    say(`removed ${at(f)}`);
  }
  rmSync(at(MANIFEST), { force: true });
  if (m.user && userExists(root, DAEMON_USER)) {
    execFileSync('userdel', [...rootArgs(root), DAEMON_USER], { stdio: 'pipe' });
    // userdel removes the user's own group only where login.defs says USERGROUPS_ENAB.
    if (accountExists(root, 'group', DAEMON_USER)) execFileSync('groupdel', [...rootArgs(root), DAEMON_USER], { stdio: 'pipe' });
    say(`removed the system user ${DAEMON_USER}`);
  }
  for (const d of m.dirs) {
    // Stacks the administrator wrote stay.
    if (readdirSync(at(d)).length === 0) rmSync(at(d), { recursive: true });
    else say(`kept ${at(d)}: it holds files install did not put there`);
  }
  if (systemdRunning(root)) execFileSync('systemctl', ['daemon-reload'], { stdio: 'pipe' });
  return m;
}

const README = `This folder holds the WASM session stacks that pam_wasm.so runs, e.g.

  /etc/pamwasm/sshd.stack:
    session  required  pam_setenv.wasm  GREETING=hello-%u

and in /etc/pam.d/sshd:
    session  required  pam_wasm.so  stack=/etc/pamwasm/sshd.stack

Stacks and modules must be owned by root and writable by no one else (the
daemon runs as the pamwasm user and refuses anything that user could change).
See docs/daemon.md in the pamwasm package.
`;
