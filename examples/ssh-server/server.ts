/**
 * An SSH server (the npm `ssh2` package) that embeds pamwasm the way sshd
 * embeds libpam with UsePAM: password and keyboard-interactive logins are
 * checked by the system PAM stack through the libpam bridge, and every exec
 * or shell request runs inside a PAM session opened through pamwasm: the
 * system session stack on a real libpam handle, the WASM stack inside it.
 *
 * @example
 *   const server = await startSshServer({
 *     hostKey: readFileSync('ssh_host_ed25519_key'),
 *     pam: { service: 'pamwasm-ssh', confdir: '/etc/pamwasm/pam.d' },
 *     stack: '/etc/pamwasm/ssh.stack',
 *     port: 2222,
 *   });
 *   // ssh -p 2222 alice@127.0.0.1 'echo $GREETING'
 *   await server.stop();
 */
import { setTimeout as delay } from 'node:timers/promises';
import ssh2 from 'ssh2';
import type { AuthContext, AuthenticationType, ClientInfo, Connection, PseudoTtyInfo, Server, ServerChannel, Session as SshSession } from 'ssh2';
import { createHost, type PamwasmHost } from '../../host/index.js';
import { runStack } from '../../host/stack/index.js';
import type { PamMode } from '../../host/libpam/index.js';
import { keyboardConversation, pamAuthenticate, passwordConversation } from './auth.js';
import { LoginSession } from './login-session.js';

export interface SshServerOptions {
  /** The host's private key (OpenSSH or PEM format). */
  hostKey: string | Buffer;
  /** The address to listen on. Default 127.0.0.1. */
  listen?: string;
  /** The port; 0 picks a free one (see `SshServer.port`). Default 2222. */
  port?: number;
  /**
   * The system PAM service: its auth and account lines check logins, its
   * session lines run around the WASM stack. `confdir` is read instead of
   * /etc/pam.d (pam_start_confdir). `mode` is where libpam runs (default: a
   * helper process per handle).
   */
  pam: { service: string; confdir?: string; mode?: PamMode };
  /** The WASM session stack file. */
  stack: string;
  /** The session registry (SQLite file); default pamwasm's (see createHost). */
  registry?: string;
  /** Where the stack's relative module names are found; default the bundled modules. */
  moduleDir?: string;
  /** Receives one line per login event. Default: none. */
  log?: (line: string) => void;
  /** Failed attempts after which a connection is dropped (sshd's MaxAuthTries). Default 6. */
  maxAuthTries?: number;
  /** How long a command gets after SIGHUP before its PAM session closes anyway (ms). Default 1000. */
  hangupGraceMs?: number;
  /**
   * How long a client has to log in (sshd's LoginGraceTime), in ms. Default
   * 120 s. A PAM prompt the client never answers would otherwise hold a libpam
   * helper forever.
   */
  loginGraceMs?: number;
  /** Client `env` requests that are accepted, as sshd's AcceptEnv (Debian: LANG LC_*). */
  acceptEnv?: RegExp;
  /** The shell that runs commands and shells. Default: the server user's login shell. */
  shell?: string;
}

const METHODS: AuthenticationType[] = ['password', 'keyboard-interactive'];

/** One client connection's state. */
interface Conn {
  client: Connection;
  info: ClientInfo;
  user?: string;
  failures: number;
  closed: boolean;
  /** Rejects when the connection is gone, so a pending PAM prompt gives up. */
  gone: Promise<never>;
  logins: Set<LoginSession>;
}

/** A running server. */
export class SshServer {
  /** The pamwasm host: its registry lists every session this server opened (`host.sessions()`). */
  readonly host: PamwasmHost;
  private readonly server: Server;
  private readonly conns = new Set<Conn>();
  private readonly logins = new Set<LoginSession>();
  private readonly log: (line: string) => void;
  private listenPort = 0;

  /** @internal Use {@link startSshServer}. */
  constructor(private readonly o: SshServerOptions, host: PamwasmHost) {
    this.host = host;
    this.log = o.log ?? (() => {});
    this.server = new ssh2.Server({ hostKeys: [o.hostKey] }, (client, info) => this.onConnection(client, info));
  }

  /** The port the server listens on. */
  get port(): number {
    return this.listenPort;
  }

  /** The address the server listens on. */
  get address(): string {
    return this.o.listen ?? '127.0.0.1';
  }

  /** Logins (exec or shell channels) running now. */
  get activeLogins(): number {
    return this.logins.size;
  }

  /** @internal */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port ?? 2222, this.address, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listenPort = (this.server.address() as { port: number }).port;
    this.server.on('error', (e: Error) => this.log(`server error: ${e.message}`));
  }

  /**
   * Stops listening, drops every connection and closes every session it has
   * open (each once), then releases the registry.
   */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.conns) c.client.end();
    await Promise.all([...this.logins].map((l) => l.close('server stopping')));
    // A client that never finishes the disconnect does not hold the stop up.
    await Promise.race([closed, delay(5000, undefined, { ref: false })]);
    await this.host.shutdown();
  }

  private onConnection(client: Connection, info: ClientInfo): void {
    let abort!: (e: Error) => void;
    const gone = new Promise<never>((_, reject) => { abort = reject; });
    gone.catch(() => { /* observed by the prompts that race it */ });
    const conn: Conn = { client, info, failures: 0, closed: false, gone, logins: new Set() };
    this.conns.add(conn);
    const grace = setTimeout(() => {
      this.log(`${info.ip}:${info.port}: no login within ${this.o.loginGraceMs ?? 120_000} ms, disconnecting`);
      client.end();
    }, this.o.loginGraceMs ?? 120_000);
    // An abrupt disconnect (ECONNRESET, a killed client) comes as `error`
    // then `close`: both end every login of the connection.
    const hangUp = (why: string) => {
      if (conn.closed) return;
      conn.closed = true;
      clearTimeout(grace);
      this.conns.delete(conn);
      abort(new Error('the client disconnected'));
      for (const l of conn.logins) void this.end(conn, l, why);
    };
    client.on('error', (e: Error) => {
      this.log(`${info.ip}:${info.port}: connection error: ${e.message}`);
      hangUp('connection error');
    });
    client.on('close', () => hangUp('connection closed'));
    client.on('authentication', (ctx) => void this.authenticate(conn, ctx));
    client.on('ready', () => {
      clearTimeout(grace);
      client.on('session', (accept) => this.onSession(conn, accept()));
    });
  }

  private async authenticate(conn: Conn, ctx: AuthContext): Promise<void> {
    if (ctx.method !== 'password' && ctx.method !== 'keyboard-interactive') return ctx.reject(METHODS);
    const { service, confdir, mode } = this.o.pam;
    const rhost = conn.info.ip;
    const conversation = ctx.method === 'password'
      ? passwordConversation(ctx.password, (m) => this.log(`${ctx.username}: ${m.style} during password auth: ${m.text}`))
      : keyboardConversation({
        prompt: (prompts, title, instructions, cb) => ctx.prompt(prompts, title, instructions, (answers) => {
          // ssh2 hands an Error to the callback when the client aborts the request.
          if (answers instanceof Error) cb([]);
          else cb(answers);
        }),
      }, conn.gone);
    let result: { ok: boolean; name: string };
    try {
      result = await pamAuthenticate({ service, confdir, mode, user: ctx.username, rhost, conversation });
    } catch (e) {
      // A host error (helper crashed, libpam missing): refuse, fail closed.
      result = { ok: false, name: (e as { code?: string }).code ?? 'error' };
      this.log(`authentication error for ${ctx.username} from ${rhost}: ${(e as Error).message}`);
    }
    if (conn.closed) return;
    if (result.ok) {
      conn.user = ctx.username;
      this.log(`accepted ${ctx.method} for ${ctx.username} from ${rhost}`);
      ctx.accept();
      return;
    }
    this.log(`failed ${ctx.method} for ${ctx.username} from ${rhost}: ${result.name}`);
    if (++conn.failures >= (this.o.maxAuthTries ?? 6)) {
      conn.client.end();
      return;
    }
    ctx.reject(METHODS);
  }

  private onSession(conn: Conn, session: SshSession): void {
    let pty: PseudoTtyInfo | undefined;
    let login: LoginSession | undefined;
    const clientEnv: Record<string, string> = {};
    const acceptEnv = this.o.acceptEnv ?? /^(LANG|LC_[A-Z_]+)$/;
    session.on('pty', (accept, _reject, info) => {
      pty = info;
      accept?.();
    });
    session.on('env', (accept, reject, info) => {
      if (acceptEnv.test(info.key)) {
        clientEnv[info.key] = info.val;
        accept?.();
      } else {
        reject?.();
      }
    });
    session.on('window-change', (accept) => accept?.()); // the pty keeps its first size (see README)
    session.on('signal', (accept, _reject, info) => {
      login?.signal(info.name);
      accept?.();
    });
    const run = (channel: ServerChannel, command?: string) => {
      login = new LoginSession(
        {
          host: this.host, stack: this.o.stack, service: this.o.pam.service, log: this.log,
          hangupGraceMs: this.o.hangupGraceMs ?? 1000, shell: this.o.shell,
        },
        {
          user: conn.user!, command, pty, clientEnv,
          remote: { ip: conn.info.ip, port: conn.info.port },
          local: { ip: this.address, port: this.port },
        },
        channel,
      );
      const l = login;
      this.logins.add(l);
      conn.logins.add(l);
      l.start().catch((e: Error) => {
        this.log(`login of ${conn.user} failed: ${e.message}`);
        void this.end(conn, l, 'error');
      });
      // A connection that dropped before this request was handled.
      if (conn.closed) void this.end(conn, l, 'connection closed');
      channel.once('close', () => void this.end(conn, l, 'channel closed'));
    };
    session.on('exec', (accept, _reject, info) => run(accept(), info.command));
    session.on('shell', (accept) => run(accept()));
  }

  /** Closes a login (once, whoever asks first) and forgets it. */
  private async end(conn: Conn, l: LoginSession, why: string): Promise<void> {
    await l.close(why);
    this.logins.delete(l);
    conn.logins.delete(l);
  }
}

/**
 * Starts the server: a pamwasm host whose sessions run the PAM service's
 * session lines (system stack) around `stack` (WASM stack), then listens.
 * Sessions that an earlier run left open (the process was killed) are
 * closed first, through the registry (`host.recover()`).
 */
export async function startSshServer(o: SshServerOptions): Promise<SshServer> {
  // A dry run of the WASM stack alone, for a made-up user: the stack's
  // problems (a missing module, a bad component) are logged now, not first
  // met at a login, and the first login does not wait for the modules to be
  // transpiled and compiled (kept in memory). Like sshd with a broken PAM
  // stack, the server still starts: the logins' sessions are then refused.
  const dry = await runStack({ stackFile: o.stack, moduleDir: o.moduleDir, items: { service: o.pam.service, user: 'pamwasm-dry-run', tty: 'ssh' } });
  for (const d of dry.diagnostics) o.log?.(`${d.file}:${d.line}: ${d.severity}: ${d.message}`);
  o.log?.(`WASM stack ${o.stack}: dry run ${dry.ok ? 'succeeded' : `gave ${dry.open?.name} / ${dry.close?.name}`}`);
  const host = await createHost({
    registry: o.registry,
    moduleDir: o.moduleDir,
    system: { service: o.pam.service, confdir: o.pam.confdir, mode: o.pam.mode },
  });
  for (const r of await host.recover()) {
    o.log?.(`recovered session ${r.id} of ${r.user}, left open by a process that is gone: closed (${r.name})`);
  }
  const server = new SshServer(o, host);
  try {
    await server.listen();
  } catch (e) {
    await host.shutdown();
    throw e;
  }
  return server;
}
