/**
 * The example's configuration, written into one state folder: a PAM config
 * dir (read through pam_start_confdir, never /etc/pam.d) whose auth stack
 * checks one demo password without touching real accounts, the system
 * session lines, the WASM session stack, and the SSH host key.
 *
 * Nothing here calls getpwnam: pam_exec, pam_deny, pam_permit and pam_env
 * (with readenv=0 and no user_readenv) work for any user name, so `alice`
 * needs no account.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';

export interface DemoConfig {
  /** The state folder everything below lives in. */
  dir: string;
  /** The PAM service (file name in `confdir`) for authentication and the system session stack. */
  service: string;
  confdir: string;
  /** The WASM session stack. */
  stack: string;
  /** The SSH host key (OpenSSH format), kept across runs so clients can remember it. */
  hostKey: string;
  /** Where pam_exec logs each open_session and close_session of the system stack. */
  sessionLog: string;
  /** The session registry (SQLite). */
  registry: string;
}

export interface DemoConfigOptions {
  /** The one password every user name logs in with. Default `pamwasm`. */
  password?: string;
  /** The PAM service name. Default `pamwasm-ssh`. */
  service?: string;
}

export const DEMO_PASSWORD = 'pamwasm';

/**
 * Writes (or refreshes) the demo configuration in `dir` and returns its paths.
 * The host key is generated once and kept.
 *
 * @example
 *   const cfg = writeDemoConfig('/tmp/ssh-demo', { password: 'secret' });
 *   await startSshServer({ hostKey: readFileSync(cfg.hostKey), pam: { service: cfg.service, confdir: cfg.confdir }, stack: cfg.stack });
 */
export function writeDemoConfig(dir: string, o: DemoConfigOptions = {}): DemoConfig {
  const password = o.password ?? DEMO_PASSWORD;
  const service = o.service ?? 'pamwasm-ssh';
  // 0700: as root, pamwasm refuses a stack file others could change.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const confdir = join(dir, 'pam.d');
  mkdirSync(confdir, { recursive: true, mode: 0o700 });
  const cfg: DemoConfig = {
    dir, service, confdir,
    stack: join(dir, 'session.stack'),
    hostKey: join(dir, 'ssh_host_ed25519_key'),
    sessionLog: join(dir, 'sessions.log'),
    registry: join(dir, 'registry.db'),
  };
  const checker = join(dir, 'check-password');
  const sessionLogger = join(dir, 'log-session');

  // pam_exec with expose_authtok writes the password, NUL-terminated, to the
  // script's stdin (pam_exec(8)); only its sha256 is kept on disk.
  const digest = createHash('sha256').update(password).digest('hex');
  writeFileSync(checker, `#!/bin/sh
# Accepts any user name with the demo password (never a real account).
[ "$(tr -d '\\000' | sha256sum | cut -d' ' -f1)" = "${digest}" ]
`, { mode: 0o700 });
  writeFileSync(sessionLogger, `#!/bin/sh
# pam_exec gives PAM_TYPE, PAM_USER, PAM_RHOST, PAM_TTY and the PAM env.
echo "$(date -u +%FT%TZ) $PAM_TYPE user=$PAM_USER rhost=$PAM_RHOST tty=$PAM_TTY" >> '${cfg.sessionLog}'
`, { mode: 0o700 });
  writeFileSync(join(dir, 'pam_env.conf'), `# pam_env(8) conffile: the system stack's share of the session environment.
SSH_EXAMPLE_SYSTEM DEFAULT=set-by-pam_env
`, { mode: 0o600 });

  // As /etc/pam.d/sshd, one service for auth, account and session.
  // Debian's common-auth shape: a failed check falls through to pam_deny,
  // so a wrong password ends as PAM_AUTH_ERR (pam_exec alone would give
  // PAM_SYSTEM_ERR for a script's non-zero exit).
  writeFileSync(join(confdir, service), `# Written by examples/ssh-server/demo-config.ts
auth     [success=1 default=ignore]  pam_exec.so expose_authtok quiet ${checker}
auth     requisite                   pam_deny.so
auth     required                    pam_permit.so
account  required                    pam_permit.so
session  required                    pam_env.so readenv=0 conffile=${join(dir, 'pam_env.conf')}
session  optional                    pam_exec.so quiet ${sessionLogger}
`, { mode: 0o600 });

  // The WASM stack runs inside the system session (host/sessions).
  writeFileSync(cfg.stack, `# Written by examples/ssh-server/demo-config.ts: the WASM session stack.
session  required  pam_setenv.wasm  GREETING=hello-%u  LOGIN_FROM=%H
session  optional  pam_echo.wasm    [Welcome %u: this session was opened by pam_echo.wasm]
`, { mode: 0o600 });

  if (!existsSync(cfg.hostKey)) {
    // ssh2 now and then emits an ed25519 key that its own parser rejects
    // ("Malformed OpenSSH private key"): keep only a key it can read back.
    let keys = ssh2.utils.generateKeyPairSync('ed25519', {});
    for (let i = 0; i < 10 && ssh2.utils.parseKey(keys.private) instanceof Error; i++) {
      keys = ssh2.utils.generateKeyPairSync('ed25519', {});
    }
    writeFileSync(cfg.hostKey, keys.private, { mode: 0o600 });
    writeFileSync(`${cfg.hostKey}.pub`, `${keys.public}\n`, { mode: 0o644 });
  }
  return cfg;
}
