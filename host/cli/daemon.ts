/**
 * `pamwasm daemon`: runs the resident service behind pam_wasm.so in the
 * foreground (systemd's pamwasm.service runs it), until SIGTERM or SIGINT.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DAEMON_REGISTRY, DEFAULT_SOCKET, startDaemon } from '../daemon/index.js';
import { lookupUser } from '../daemon/privileges.js';
import { duration as durationOf, usage } from './usage.js';

export const DAEMON_HELP = `Usage: pamwasm daemon [--socket PATH] [--registry PATH] [--user NAME] [--workers N] [options]

Serves pam_wasm.so: runs the WASM session stacks of sshd, login, su... in a
pool of worker threads, and keeps every session in its registry so that no
close is lost. Binds as root, then drops to --user. See docs/daemon.md.

Options:
  --socket PATH      the UNIX socket (default: ${DEFAULT_SOCKET}); under systemd
                     socket activation, the socket systemd passes
  --registry PATH    the session registry (default: ${DEFAULT_DAEMON_REGISTRY});
                     its folder is given to --user
  --user NAME        the user to run as after binding (default: pamwasm); root keeps
                     root, with a warning; started by another user, the daemon
                     runs as that user
  --workers N        stack worker threads (default: the cores, at least 2)
  --allow USER       also serve peers of this user (SO_PEERCRED); root is always served;
                     may be repeated
  --sync MODE        registry durability: normal (default; survives kill -9 of the
                     daemon) or full (also survives a power loss, ~5 ms per session)
  --module-dir DIR   where relative module paths in stacks are found
  --timeout DUR      default time limit of a line's call (e.g. 500ms, 2s; default 1s);
                     0 leaves lines unmetered in their thread, bounded by the watchdog alone
  --margin DUR       watchdog: time past a hook's line limits before its worker is
                     terminated (default 2s)
  --unmetered DUR    watchdog: allowance of a line whose time limit is 0 (default 10s)
  --watch DUR        how often open sessions' applications are checked for being gone
                     (default 2s; 0: never, leaving them to \`pamwasm recover\`)
  --keep DUR         how long closed and failed sessions stay in the registry (e.g. 7d,
                     12h; default 30d; 0: for ever); open ones always stay
  --spin DUR         how long a worker that has just served a hook polls for the next
                     one before it sleeps, while no thread waits for a CPU
                     (default 300us; 0: never)
  --log WHERE        syslog (default) or stderr (the journal under systemd)`;

const duration = (v: string, option: string): number => durationOf(v, option, 'daemon');

function spin(v: string): number {
  const ms = duration(v, '--spin');
  if (ms > 100) throw usage(`--spin ${v} is longer than 100ms: a worker would hold a CPU that long after every hook`, 'daemon');
  return ms;
}

export async function daemonCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      socket: { type: 'string' }, registry: { type: 'string' }, user: { type: 'string' }, workers: { type: 'string' },
      allow: { type: 'string', multiple: true }, sync: { type: 'string' }, 'module-dir': { type: 'string' },
      timeout: { type: 'string' }, margin: { type: 'string' }, unmetered: { type: 'string' }, watch: { type: 'string' }, keep: { type: 'string' }, spin: { type: 'string' }, log: { type: 'string' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(DAEMON_HELP);
    return 0;
  }
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1 && workers <= 256)) throw usage(`--workers ${values.workers} is not a count from 1 to 256`, 'daemon');
  if (values.sync && values.sync !== 'normal' && values.sync !== 'full') throw usage(`--sync ${values.sync} is not normal or full`, 'daemon');
  if (values.log && values.log !== 'syslog' && values.log !== 'stderr') throw usage(`--log ${values.log} is not syslog or stderr`, 'daemon');
  const daemon = await startDaemon({
    socket: values.socket, registry: values.registry, user: values.user, workers,
    allowUids: (values.allow ?? []).map((u) => lookupUser(u).uid),
    synchronous: values.sync as 'normal' | 'full' | undefined,
    moduleDir: values['module-dir'] === undefined ? undefined : resolve(values['module-dir']),
    sandbox: values.timeout === undefined ? undefined : { timeoutMs: duration(values.timeout, '--timeout') },
    marginMs: values.margin === undefined ? undefined : duration(values.margin, '--margin'),
    unmeteredMs: values.unmetered === undefined ? undefined : duration(values.unmetered, '--unmetered'),
    watchEveryMs: values.watch === undefined ? undefined : duration(values.watch, '--watch'),
    keepMs: values.keep === undefined ? undefined : duration(values.keep, '--keep'),
    spinMs: values.spin === undefined ? undefined : spin(values.spin),
    log: values.log as 'syslog' | 'stderr' | undefined,
  });
  await new Promise<void>((resolve) => {
    const stop = () => void daemon.stop().then(resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    // Nothing to reload: stacks and modules are read for each new session.
    // Without a handler, SIGHUP would end the daemon.
    process.on('SIGHUP', () => {});
  });
  return 0;
}
