/**
 * The SSH example (examples/ssh-server) against Debian's real OpenSSH client:
 * password logins checked by the system libpam (pam_exec with expose_authtok,
 * never a real account), a PAM session per exec or shell request through
 * pamwasm (pam_env and pam_exec around pam_setenv.wasm and pam_echo.wasm),
 * and every session closed exactly once, however the client leaves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDemoConfig, type DemoConfig } from '../../examples/ssh-server/demo-config.js';
import { startSshServer, type SshServer } from '../../examples/ssh-server/server.js';
import { alive, childPid, pool, prepareModules, sessionLogFor, ssh, waitFor, type SshOptions } from './support.js';

const PASSWORD = 'correct horse';
const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pamwasm-ssh-'));
let modules: string;
let cfg: DemoConfig;
let server: SshServer;
const serverLog: string[] = [];

beforeAll(async () => {
  modules = await prepareModules(join(dir, 'modules'));
  cfg = writeDemoConfig(join(dir, 'state'), { password: PASSWORD });
  server = await startSshServer({
    hostKey: readFileSync(cfg.hostKey),
    port: 0,
    pam: { service: cfg.service, confdir: cfg.confdir },
    stack: cfg.stack,
    registry: cfg.registry,
    moduleDir: modules,
    // dash: no rc files of the machine's root account (Debian's bash reads ~/.bashrc under sshd).
    shell: '/bin/sh',
    log: (line) => serverLog.push(line),
  });
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const login = (o: Omit<SshOptions, 'port' | 'password'> & { password?: string }) =>
  ssh({ port: server.port, password: PASSWORD, ...o }).done;
const rowsOf = (user: string) => server.host.sessions().filter((r) => r.user === user);

describe('logging in with the real ssh client', () => {
  it('runs the command with the PAM env: pam_setenv.wasm and pam_env variables reach it', async () => {
    const r = await login({ user: 'alice', command: 'echo $GREETING; echo $SSH_EXAMPLE_SYSTEM; echo $USER' });
    expect(r.stderr).not.toMatch(/denied|refused/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hello-alice\nset-by-pam_env\nalice\n');
    console.info(`first login (ssh start to exit): ${r.ms.toFixed(0)} ms`);
  });

  it("shows pam_echo.wasm's message to the user, on stderr before the command's output ends", async () => {
    const r = await login({ user: 'bob', command: 'echo out; echo err >&2' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('Welcome bob: this session was opened by pam_echo.wasm\nerr\n');
  });

  it('refuses a wrong password and opens no session', async () => {
    const r = await login({ user: 'mallory', password: 'wrong', command: 'echo $GREETING' });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/Permission denied/);
    expect(serverLog).toContain('failed password for mallory from 127.0.0.1: PAM_AUTH_ERR');
    expect(rowsOf('mallory')).toEqual([]);
    expect(sessionLogFor(cfg.sessionLog, 'mallory')).toEqual([]);
  });

  it('logs in with keyboard-interactive, PAM prompting the client through the async conversation', async () => {
    const ok = await login({ user: 'carol', method: 'keyboard-interactive', command: 'echo $GREETING' });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('hello-carol\n');
    const bad = await login({ user: 'carol', method: 'keyboard-interactive', password: 'wrong', command: 'true' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Permission denied/);
  });

  it("runs a shell request in the session, reading commands from the client's stdin", async () => {
    const r = await login({ user: 'dave', args: ['-T'], input: 'echo shell:$GREETING\nexit 3\n' });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('shell:hello-dave\n');
    expect(r.stderr).toContain('Welcome dave: this session was opened by pam_echo.wasm');
  });

  it('gives a command a terminal when the client asks for a pty, and shows the message with CR LF', async () => {
    const r = await login({ user: 'erin', args: ['-tt'], command: 'tty; echo $GREETING $TERM' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+\r\nhello-erin \S+\r\n/);
    expect(r.stdout + r.stderr).toContain('Welcome erin: this session was opened by pam_echo.wasm\r\n');
  });

  it('passes the exit status and accepts LANG from the client, as AcceptEnv LANG LC_* does', async () => {
    const r = await login({ user: 'frank', args: ['-o', 'SetEnv=LANG=C.UTF-8 FOO=bar'], command: 'echo "$LANG/$FOO"; exit 42' });
    expect(r.code).toBe(42);
    expect(r.stdout).toBe('C.UTF-8/\n');
  });
});

describe('a broken WASM stack', () => {
  it('is reported at start, and each login is refused its session with the reason, the system session undone', async () => {
    const stack = join(dir, 'broken.stack');
    writeFileSync(stack, 'session required pam_nosuch.wasm\n', { mode: 0o600 });
    const log: string[] = [];
    const broken = await startSshServer({
      hostKey: readFileSync(cfg.hostKey), port: 0, pam: { service: cfg.service, confdir: cfg.confdir },
      stack, registry: join(dir, 'broken.db'), moduleDir: modules, shell: '/bin/sh', log: (l) => log.push(l),
    });
    try {
      expect(log).toContain(`${stack}:1: error: module ${join(modules, 'pam_nosuch.wasm')} does not exist.`);
      const r = await ssh({ port: broken.port, password: PASSWORD, user: 'oscar', command: 'echo ran' }).done;
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('pamwasm: the PAM session was refused (PAM_MODULE_UNKNOWN)');
      expect(broken.host.sessions().map((x) => [x.user, x.state])).toEqual([['oscar', 'failed']]);
      expect(sessionLogFor(cfg.sessionLog, 'oscar')).toEqual(['open_session', 'close_session']);
    } finally {
      await broken.stop();
    }
  });
});

describe('closing sessions', () => {
  it('closes the session exactly once when the command ends, before the client gets the exit status', async () => {
    const r = await login({ user: 'grace', command: 'true' });
    expect(r.code).toBe(0);
    const rows = rowsOf('grace');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: 'closed', closedBy: 'api', openCode: 0, closeCode: 0 });
    expect(sessionLogFor(cfg.sessionLog, 'grace')).toEqual(['open_session', 'close_session']);
  });

  it('closes the session exactly once when the client is killed mid-command, and hangs up the command', async () => {
    const run = ssh({ port: server.port, password: PASSWORD, user: 'heidi', command: 'echo pid=$$; exec sleep 60' });
    const remotePid = Number(await waitFor('the remote pid', () => /pid=(\d+)/.exec(run.stdout())?.[1]));
    expect(rowsOf('heidi').map((r) => r.state)).toEqual(['open']);
    // kill -9 the ssh process itself (sshpass's child): the socket drops with no goodbye.
    process.kill(childPid(run.child.pid!)!, 'SIGKILL');
    await run.done;
    const closed = await waitFor('the session to close', () => rowsOf('heidi').find((r) => r.state === 'closed'));
    expect(closed).toMatchObject({ closedBy: 'api', closeCode: 0 });
    expect(rowsOf('heidi')).toHaveLength(1);
    expect(sessionLogFor(cfg.sessionLog, 'heidi')).toEqual(['open_session', 'close_session']);
    expect(alive(remotePid)).toBe(false);
    expect(serverLog.some((l) => /closed \(PAM_SUCCESS\) for heidi: (connection|channel) closed/.test(l))).toBe(true);
  });

  it('forgets a login whose client still had its input open when the command ended', async () => {
    const r = await login({ user: 'ivy', args: ['-T'], input: 'echo bye; exit 0\n', keepStdinOpen: true });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('bye\n');
    await waitFor('the login to be forgotten', () => server.activeLogins === 0);
    expect(rowsOf('ivy').map((x) => x.state)).toEqual(['closed']);
  });
});

describe('load', () => {
  it('serves 50 logins, 10 at a time, each in its own session closed once', async () => {
    const users = Array.from({ length: 50 }, (_, i) => `load${i}`);
    const started = performance.now();
    const results = await pool(users, 10, (user) => login({ user, command: 'echo $GREETING' }));
    const ms = performance.now() - started;
    for (const [i, r] of results.entries()) {
      expect(r.stderr, users[i]).not.toMatch(/denied|refused/i);
      expect(r.code, users[i]).toBe(0);
      expect(r.stdout).toBe(`hello-${users[i]}\n`);
    }
    const rows = server.host.sessions().filter((r) => r.user.startsWith('load'));
    expect(rows).toHaveLength(50);
    expect(rows.every((r) => r.state === 'closed' && r.closedBy === 'api')).toBe(true);
    for (const u of users) expect(sessionLogFor(cfg.sessionLog, u)).toEqual(['open_session', 'close_session']);
    expect(server.activeLogins).toBe(0);
    const each = results.map((r) => r.ms).sort((a, b) => a - b);
    console.info(`50 logins, 10 at a time: ${(ms / 1000).toFixed(1)} s; per login median ${each[25].toFixed(0)} ms, max ${each[49].toFixed(0)} ms`);
  }, 180_000);
});

describe('npm run example:ssh', () => {
  // The script compiles the example with tsc and runs main.js; here it is compiled
  // into a folder of its own, so that no other test reads dist/ half-written.
  const out = join(ROOT, '.cache', 'ssh-example-test-build');

  it('is the script in package.json', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts['example:ssh']).toBe('tsc -p examples/ssh-server && node dist/examples/ssh-server/main.js');
  });

  it('starts, serves a login checked against its known_hosts, stops on SIGTERM, and recovers a session a killed run left open', async () => {
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'examples/ssh-server', '--outDir', out], { cwd: ROOT, encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    const state = join(dir, 'cmd-state');
    const start = async () => {
      const main = spawn(process.execPath, [join(out, 'examples', 'ssh-server', 'main.js'), '--port', '0', '--state-dir', state, '--module-dir', modules], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      main.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
      main.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      const exited = new Promise<number | null>((resolve) => main.on('close', resolve));
      const port = Number(await waitFor('the server to listen', () => /listening on 127\.0\.0\.1:(\d+)/.exec(stdout)?.[1] ?? (main.exitCode !== null ? 'exited' : undefined)));
      expect(port, stderr).toBeGreaterThan(0);
      return { main, port, exited, stderr: () => stderr };
    };
    const knownHosts = join(state, 'known_hosts');

    const first = await start();
    const r = await ssh({ port: first.port, user: 'ivan', password: 'pamwasm', knownHosts, command: 'echo $GREETING' }).done;
    expect(r.stderr).toBe('Welcome ivan: this session was opened by pam_echo.wasm\n');
    expect(r.stdout).toBe('hello-ivan\n');

    // A session left open by a server that is killed (-9), closed by the next run.
    const run = ssh({ port: first.port, user: 'judy', password: 'pamwasm', knownHosts, command: 'echo pid=$$; exec sleep 60' });
    const remotePid = Number(await waitFor('the remote pid', () => /pid=(\d+)/.exec(run.stdout())?.[1]));
    first.main.kill('SIGKILL');
    await first.exited;
    await run.done;
    process.kill(-remotePid, 'SIGKILL'); // nobody hung it up: its server died
    expect(sessionLogFor(join(state, 'sessions.log'), 'judy')).toEqual(['open_session']);

    const second = await start();
    await waitFor('the recovery', () => /recovered session \S+ of judy/.test(second.stderr()));
    expect(sessionLogFor(join(state, 'sessions.log'), 'judy')).toEqual(['open_session', 'close_session']);
    second.main.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.stderr()).toContain('SIGTERM: closing 0 running login(s)');
  }, 120_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));
});
