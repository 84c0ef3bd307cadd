/**
 * `npm run example:sshd`: the real OpenSSH server with pam_wasm.so in its
 * session stack and `pamwasm daemon` behind it, for trying by hand.
 *
 * Starts the daemon (as root, --user root) on a temp socket and registry,
 * sshd on a loopback port with the PAM service pamwasm-e2e-sshd (written to
 * /etc/pam.d for the run), runs `ssh root@127.0.0.1 'echo $GREETING'` once,
 * then prints how to log in and waits for Ctrl-C, which removes everything.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildJsModule, GUEST_DIST_DIR, GUEST_MODULES_DIR, JS_CACHE_DIR } from '../../host/build/js.js';
import { PAM_MODULE } from '../../host/build/pam.js';
import { packageRoot } from '../../host/wit/index.js';
import { Openssh, PAM_FILE } from './openssh.js';

const dir = mkdtempSync(join(tmpdir(), 'pamwasm-sshd-'));
const socket = join(dir, 'pamwasm.sock');
if (!existsSync(PAM_MODULE)) throw new Error(`${PAM_MODULE} is missing: npm run build (needs gcc and libpam0g-dev)`);
const setenv = join(dir, 'pam_setenv.wasm');
console.log('building pam_setenv.wasm (cached after the first time)...');
await buildJsModule(join(GUEST_MODULES_DIR, 'pam_setenv'), setenv, { cacheDir: JS_CACHE_DIR });
const stack = join(dir, 'sshd.stack');
writeFileSync(stack, `session required ${setenv} GREETING=hello-%u\n`, { mode: 0o644 });

const daemon = spawn(process.execPath, [join(packageRoot(), 'bin', 'pamwasm.js'), 'daemon', '--socket', socket, '--registry', join(dir, 'registry.db'),
  '--user', 'root', '--log', 'stderr', '--module-dir', GUEST_DIST_DIR], { stdio: ['ignore', 'inherit', 'pipe'] });
await new Promise<void>((resolve, reject) => {
  daemon.stderr!.setEncoding('utf8').on('data', (c: string) => { process.stderr.write(`daemon: ${c}`); if (c.includes('serving ')) resolve(); });
  daemon.once('exit', (code) => reject(new Error(`the daemon exited (${code})`)));
});
const sshd = await Openssh.start({
  dir: join(dir, 'sshd'),
  session: `session required ${PAM_MODULE} stack=${stack} socket=${socket} daemon_user=root`,
  log: (l) => console.error(`sshd: ${l}`),
});

async function stop(): Promise<void> {
  await sshd.stop();
  daemon.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
// Ctrl-C, a kill or a closed terminal: each removes the service file from /etc/pam.d.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => void stop().then(() => process.exit(0)));

const r = await sshd.run('echo $GREETING').done;
console.log(`ssh root@127.0.0.1 'echo $GREETING' -> exit ${r.code}: ${r.stdout.trim() || r.stderr.trim()}`);
console.log(`\nsshd listens on 127.0.0.1:${sshd.port}; PAM service ${PAM_FILE}. Log in with:\n` +
  `  ssh -F /dev/null -p ${sshd.port} -i ${join(dir, 'sshd', 'client_key')} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1 'echo $GREETING'\n` +
  'Ctrl-C stops sshd and the daemon and removes the service file.');
