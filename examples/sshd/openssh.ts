/**
 * Debian's real OpenSSH server on a loopback port, from a temporary
 * sshd_config, with `UsePAM yes` and key authentication for root, and its
 * PAM service file written for the run and removed after.
 *
 * OpenSSH 9.2 names its PAM service after the program (`__progname`), so a
 * symlink to /usr/sbin/sshd named `pamwasm-e2e-sshd` reads
 * /etc/pam.d/pamwasm-e2e-sshd: the system's own sshd service is not touched.
 * Writing /etc/pam.d needs root.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const SSHD = '/usr/sbin/sshd';
export const SERVICE = 'pamwasm-e2e-sshd';
export const PAM_FILE = `/etc/pam.d/${SERVICE}`;

export interface OpensshOptions {
  /** A private folder for keys, config and the symlink. */
  dir: string;
  /** The session lines of the PAM service (auth and account are set for key logins). */
  session: string;
  log?: (line: string) => void;
}

export interface SshResult { code: number | null; stdout: string; stderr: string }

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class Openssh {
  private constructor(readonly dir: string, readonly port: number, private readonly child: ChildProcess, private readonly key: string) {}

  static async start(o: OpensshOptions): Promise<Openssh> {
    if (process.getuid?.() !== 0) throw new Error('the real sshd test needs root: it writes /etc/pam.d/' + SERVICE);
    if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: apt-get install openssh-server`);
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation folder
    const hostKey = join(o.dir, 'host_key');
    const key = join(o.dir, 'client_key');
    for (const k of [hostKey, key]) if (!existsSync(k)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]);
    writeFileSync(join(o.dir, 'authorized_keys'), readFileSync(`${key}.pub`));
    writeFileSync(PAM_FILE, [
      '# written by pamwasm\'s OpenSSH test for the run, then removed',
      'auth required pam_deny.so',
      'account required pam_permit.so',
      'password required pam_deny.so',
      o.session.trim(),
      '',
    ].join('\n'));
    const port = await freePort();
    const config = join(o.dir, 'sshd_config');
    writeFileSync(config, [
      `ListenAddress 127.0.0.1:${port}`, `HostKey ${hostKey}`, `PidFile ${join(o.dir, 'sshd.pid')}`,
      'UsePAM yes', 'PermitRootLogin prohibit-password', `AuthorizedKeysFile ${join(o.dir, 'authorized_keys')}`,
      'StrictModes no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UseDNS no',
      'PrintMotd no', 'PrintLastLog no', 'MaxStartups 100', 'MaxSessions 100', 'LogLevel INFO', '',
    ].join('\n'));
    const program = join(o.dir, SERVICE);
    if (!existsSync(program)) symlinkSync(SSHD, program);
    // sshd re-executes itself for each connection, so it must be started by an absolute path.
    const child = spawn(program, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line) o.log?.(line);
        seen += chunk;
        if (seen.includes('Server listening on')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`sshd exited (${code}) before listening: ${seen}`)));
    });
    return new Openssh(o.dir, port, child, key);
  }

  /** Runs `ssh root@127.0.0.1 <command>` with the client key; returns when ssh exits. */
  run(command: string): { child: ChildProcess; done: Promise<SshResult> } {
    const child = spawn('ssh', [
      '-F', '/dev/null', '-p', String(this.port), '-i', this.key, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none',
      '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
      '-o', 'ConnectTimeout=20', 'root@127.0.0.1', command,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const done = new Promise<SshResult>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
    return { child, done };
  }

  /** Stops sshd and removes the PAM service file. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(PAM_FILE, { force: true });
  }
}
