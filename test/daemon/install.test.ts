import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PAM } from '../../host/codes/index.js';
import { builtForThisMachine, PAM_MODULE } from '../../host/build/pam.js';
import { install, systemPamDir, uninstall } from '../../host/daemon/install.js';
import { BIN, DaemonDir, hook, MODULES } from '../support/daemon.js';

/** A root folder with this system's account files, for useradd --root. */
function fakeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'pamwasm-root-'));
  mkdirSync(join(root, 'etc'));
  for (const f of ['passwd', 'group', 'shadow', 'gshadow']) copyFileSync(join('/etc', f), join(root, 'etc', f));
  return root;
}
const accounts = (root: string, file: string) => readFileSync(join(root, 'etc', file), 'utf8').split('\n').filter((l) => l.startsWith('pamwasm:'));

describe('pamwasm install and uninstall', () => {
  const roots: string[] = [];
  afterEach(() => { for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true }); });

  it('lays down the module, the units, /etc/pamwasm and the system user, and uninstall takes exactly them away', () => {
    const root = fakeRoot();
    roots.push(root);
    const pamDir = systemPamDir();
    install({ root });
    const module = join(root, pamDir, 'pam_wasm.so');
    expect(statSync(module).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(root, 'etc/systemd/system/pamwasm.socket'), 'utf8')).toContain('ListenStream=/run/pamwasm/pamwasm.sock');
    const service = readFileSync(join(root, 'etc/systemd/system/pamwasm.service'), 'utf8');
    expect(service).toContain(`ExecStart=${process.execPath} ${BIN} daemon --user pamwasm --log stderr`);
    expect(accounts(root, 'passwd')).toEqual([expect.stringMatching(/^pamwasm:x:\d+:\d+::\/nonexistent:\/usr\/sbin\/nologin$/)]);
    // A stack the administrator writes stays after uninstall.
    writeFileSync(join(root, 'etc/pamwasm/sshd.stack'), 'session required pam_permit.wasm\n');

    uninstall({ root });
    expect([existsSync(module), existsSync(join(root, 'etc/systemd/system/pamwasm.service')), existsSync(join(root, 'etc/systemd/system/pamwasm.socket'))]).toEqual([false, false, false]);
    expect([accounts(root, 'passwd'), accounts(root, 'group')]).toEqual([[], []]);
    expect(readFileSync(join(root, 'etc/pamwasm/sshd.stack'), 'utf8')).toBe('session required pam_permit.wasm\n');
    expect(existsSync(join(root, 'etc/pamwasm/README'))).toBe(false);
  });

  it('leaves a pamwasm user that was there before install', () => {
    const root = fakeRoot();
    roots.push(root);
    execFileSync('useradd', ['--root', root, '--system', 'pamwasm']);
    install({ root });
    uninstall({ root });
    expect(accounts(root, 'passwd')).toHaveLength(1);
    expect(existsSync(join(root, 'etc/pamwasm'))).toBe(false);
  });

  it('installs only a pam_wasm.so built for this machine\'s processor', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pamwasm-elf-'));
    try {
      expect(builtForThisMachine(PAM_MODULE)).toBe(true);
      // The same module with another e_machine (offset 18): aarch64 on x86-64, x86-64 elsewhere.
      const foreign = readFileSync(PAM_MODULE);
      foreign.writeUInt16LE(process.arch === 'x64' ? 183 : 62, 18);
      writeFileSync(join(dir, 'foreign.so'), foreign);
      expect(builtForThisMachine(join(dir, 'foreign.so'))).toBe(false);
      writeFileSync(join(dir, 'short.so'), '\x7fELF');
      expect(builtForThisMachine(join(dir, 'short.so'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to uninstall what it did not install', () => {
    const root = fakeRoot();
    roots.push(root);
    expect(() => uninstall({ root })).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_USAGE' }));
  });
});

describe('pamwasm daemon under socket activation', () => {
  let d: DaemonDir | undefined;
  afterEach(() => d?.remove());

  it('serves the socket systemd passes it (LISTEN_FDS)', async () => {
    d = new DaemonDir();
    const stack = d.stack('session required pam_permit.wasm');
    const child = spawn('systemd-socket-activate', ['-l', d.socket, process.execPath, BIN, 'daemon', '--registry', d.registry, '--user', 'root', '--log', 'stderr', '--module-dir', MODULES, '--workers', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => { log += c; });
    try {
      // systemd-socket-activate binds the socket, then waits for the first connection.
      for (let waited = 0; !existsSync(d.socket); waited += 50) {
        if (waited > 10_000) throw new Error(`systemd-socket-activate did not bind ${d.socket}: ${log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // The first connection starts the daemon, which takes the socket over.
      const o = await hook(d.socket, { hook: 'open_session', stack });
      expect(o.code).toBe(PAM.SUCCESS.number);
      expect((await hook(d.socket, { hook: 'close_session', stack, sessionId: o.sessionId })).code).toBe(PAM.SUCCESS.number);
      expect(log).toMatch(/serving .* as root with 1 workers/);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    }
  }, 60_000);
});
