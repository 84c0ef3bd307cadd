/**
 * One exec or shell request, run inside one PAM session: open the session
 * through pamwasm (system stack, then WASM stack), show the modules' messages
 * on the channel's stderr, run the command with the PAM environment, and close
 * the session when the command ends, the channel closes or the connection
 * drops, whichever comes first, exactly once.
 *
 * The command runs as the server's own user: this example never changes
 * credentials (a real server would setuid to the account after open, as sshd
 * does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { homedir, userInfo } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { PseudoTtyInfo, ServerChannel } from 'ssh2';
import type { PamwasmHost, Session } from '../../host/index.js';

export interface LoginRequest {
  /** The authenticated SSH user name (PAM_USER). */
  user: string;
  remote: { ip: string; port: number };
  local: { ip: string; port: number };
  /** The exec request's command; undefined for a shell request. */
  command?: string;
  /** The pty the client asked for, if any. */
  pty?: PseudoTtyInfo;
  /** Variables from the client's accepted `env` requests. */
  clientEnv: Record<string, string>;
}

export interface LoginSessionOptions {
  host: PamwasmHost;
  /** The WASM session stack. */
  stack: string;
  /** The PAM service name the session is opened for. */
  service: string;
  log: (line: string) => void;
  /** How long the command gets after SIGHUP before its PAM session closes anyway (ms). */
  hangupGraceMs: number;
  /** The shell; default the server user's login shell. */
  shell?: string;
}

/** sshd's default PATH for a session (_PATH_STDPATH plus the sbin folders); pam_env may set another. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

export class LoginSession {
  private opening?: Promise<Session | undefined>;
  private child?: ChildProcess;
  private childClosed?: Promise<void>;
  private childDone = false;
  private closing?: Promise<void>;
  private channelGone = false;

  constructor(private readonly o: LoginSessionOptions, private readonly req: LoginRequest, private readonly channel: ServerChannel) {
    // ssh2 emits `close` for a channel closed by the client and, with the
    // socket, for every channel of a dropped connection.
    channel.on('close', () => {
      this.channelGone = true;
      void this.close('channel closed');
    });
    channel.on('error', () => { /* the close above follows */ });
  }

  /** Opens the PAM session and starts the command (or shell) in it. */
  async start(): Promise<void> {
    if (this.closing) return; // closed before it started: open nothing
    this.opening = this.openPam();
    const s = await this.opening;
    // The client left while the session opened: close() has it now.
    if (this.closing) return;
    if (!s?.opened) return this.endChannel(1, null);
    let pamEnv: string[];
    try {
      // pam_getenvlist on the real handle: the system modules' and the WASM modules' variables.
      pamEnv = await s.getenvlist();
    } catch (e) {
      this.o.log(`session ${s.id}: pam_getenvlist failed: ${(e as Error).message}`);
      pamEnv = s.env;
    }
    if (this.closing) return;
    this.spawnChild(this.childEnv(pamEnv));
  }

  /** Forwards a client's `signal` request to the command's process group. */
  signal(name: string): void {
    if (this.child?.pid && !this.childDone) {
      try { process.kill(-this.child.pid, `SIG${name}` as NodeJS.Signals); } catch { /* gone, or not a signal */ }
    }
  }

  /**
   * Ends the login: hangs up the command if it still runs (SIGHUP to its
   * process group, as sshd does), gives it `hangupGraceMs` to go, then closes
   * the PAM session. Safe to call any number of times, from any event.
   */
  close(why: string): Promise<void> {
    this.closing ??= this.doClose(why);
    return this.closing;
  }

  private async doClose(why: string): Promise<void> {
    const s = await this.opening;
    if (this.child?.pid && !this.childDone) {
      this.signal('HUP');
      await Promise.race([this.childClosed, delay(this.o.hangupGraceMs)]);
    }
    if (!s?.opened) return;
    try {
      const r = await s.close();
      this.o.log(`session ${s.id} closed (${r.name}) for ${this.req.user}: ${why}`);
    } catch (e) {
      this.o.log(`session ${s.id}: close failed: ${(e as Error).message}`);
    }
  }

  private async openPam(): Promise<Session | undefined> {
    const { user, remote } = this.req;
    try {
      const s = await this.o.host.openSession({
        stack: this.o.stack, service: this.o.service, user, rhost: remote.ip,
        // sshd's PAM_TTY without a pty; the pty's name is not known here (script(1) makes it).
        tty: 'ssh',
        // System and WASM modules alike: their info and error messages go to
        // the user at once; prompts cannot be answered in a session (PAM_CONV_ERR).
        conversation: (messages) => messages.map((m) => {
          if (m.style === 'info' || m.style === 'error') this.tell(m.text);
          return null;
        }),
      });
      if (s.opened) {
        this.o.log(`session ${s.id} opened for ${user} from ${remote.ip}${this.req.command === undefined ? ' (shell)' : ''}`);
      } else {
        this.o.log(`session ${s.id} refused for ${user} from ${remote.ip}: ${s.name}`);
        this.tell(`pamwasm: the PAM session was refused (${s.name})`);
      }
      return s;
    } catch (e) {
      this.o.log(`cannot open a session for ${user} from ${remote.ip}: ${(e as Error).message}`);
      this.tell('pamwasm: cannot open a PAM session');
      return undefined;
    }
  }

  /** The command's environment, built as sshd's do_setup_env: its own variables, the client's accepted ones, then the PAM env list on top. */
  private childEnv(pamEnv: string[]): Record<string, string> {
    const { user, remote, local, pty, clientEnv } = this.req;
    const env: Record<string, string> = {
      USER: user,
      LOGNAME: user,
      HOME: homedir(),
      SHELL: this.o.shell ?? userShell(),
      PATH: DEFAULT_PATH,
      SSH_CLIENT: `${remote.ip} ${remote.port} ${local.port}`,
      SSH_CONNECTION: `${remote.ip} ${remote.port} ${local.ip} ${local.port}`,
      ...(pty ? { TERM: pty.term } : {}),
      ...clientEnv,
    };
    for (const e of pamEnv) {
      const eq = e.indexOf('=');
      if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
    }
    return env;
  }

  private spawnChild(env: Record<string, string>): void {
    const { command, pty } = this.req;
    const shell = env.SHELL;
    let child: ChildProcess;
    // detached: a process group of its own (sshd's setsid), so a hangup reaches everything the command started.
    const common = { env, cwd: env.HOME, detached: true, stdio: 'pipe' as const };
    if (pty) {
      // Node cannot make a pty: util-linux script(1) runs the command on a new
      // one (sized as the client asked), so the shell gets a terminal, echo and ^C.
      const size = `stty rows ${pty.rows || 24} cols ${pty.cols || 80} 2>/dev/null; `;
      child = spawn('script', ['-qefc', size + (command ?? `exec ${quote(shell)} -l`), '/dev/null'], common);
    } else if (command !== undefined) {
      child = spawn(shell, ['-c', command], common);
    } else {
      // A shell without a pty reads commands from the channel; argv[0] "-sh" makes it a login shell.
      child = spawn(shell, [], { ...common, argv0: `-${shell.split('/').pop()}` });
    }
    this.child = child;
    this.childClosed = new Promise((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        this.childDone = true;
        resolve();
        void this.close('command ended').then(() => this.endChannel(code, signal));
      };
      child.on('close', finish);
      child.on('error', (e) => {
        this.tell(`pamwasm: cannot run ${shell}: ${e.message}`);
        finish(127, null);
      });
    });
    child.stdout!.pipe(this.channel, { end: false });
    child.stderr!.pipe(this.channel.stderr, { end: false });
    this.channel.pipe(child.stdin!);
    child.stdin!.on('error', () => { /* EPIPE: the command stopped reading */ });
  }

  /** Sends the exit status (or signal) and ends the channel, unless the client already closed it. */
  private endChannel(code: number | null, signal: NodeJS.Signals | null): void {
    // Input nobody will read is discarded: ssh2 emits a server channel's
    // `close` only after its readable side has ended.
    this.channel.unpipe();
    this.channel.resume();
    if (this.channelGone) return;
    if (signal) this.channel.exit(signal.replace(/^SIG/, ''), false, '');
    else this.channel.exit(code ?? 255);
    this.channel.end();
  }

  /** Shows a line to the user on the channel's stderr (CR LF on a pty, whose client is in raw mode). */
  private tell(text: string): void {
    if (this.channelGone || !this.channel.stderr.writable) return;
    this.channel.stderr.write(`${text}${this.req.pty ? '\r\n' : '\n'}`);
  }
}

/** The server user's login shell (the command runs as that user). */
function userShell(): string {
  try {
    return userInfo().shell || '/bin/sh';
  } catch {
    return '/bin/sh';
  }
}
