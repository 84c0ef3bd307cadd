/**
 * `pamwasm sessions` lists the registry; `pamwasm recover` closes, exactly
 * once and with the data saved at open, every session whose owner is gone
 * (a host killed with open sessions, a login whose application died before
 * pam_close_session). Run `recover` at boot, or from a timer: it is safe
 * while hosts run, since it only takes sessions whose owner process is gone.
 */
import { parseArgs } from 'node:util';
import { PAM } from '../codes/index.js';
import { createHost, DEFAULT_KEEP_MS, defaultRegistryPath, type ClosedRecord, type SessionRecord } from '../sessions/index.js';
import { LOG_OPTIONS, type LogOption } from '../runtime/index.js';
import { bold, codeName, dim, messageTag, table } from './output.js';
import { duration, usage } from './usage.js';

export const SESSIONS_HELP = `Usage: pamwasm sessions [--registry PATH] [--state S] [--json]

Lists the sessions in the registry, oldest first.

Options:
  --registry PATH  the registry (default: /var/lib/pamwasm/registry.db as root,
                   else $XDG_STATE_HOME/pamwasm/registry.db)
  --state S        only sessions in state S (opening, open, closing, closed, failed); may be repeated
  --json           print one JSON array (module data left out)`;

export const RECOVER_HELP = `Usage: pamwasm recover [--registry PATH] [--keep DUR] [--json]

Closes every session whose owning process is gone (killed, crashed, or a
login application that exited without closing), exactly once: the WASM
stack's close runs with the module data and frozen chain saved at open, and
the system stack's close on a new libpam handle. Sessions whose owner still
runs are left alone, so it is safe while hosts run. Then it deletes the
closed and failed sessions that ended longer ago than --keep, so that a
registry kept by \`pamwasm exec\` does not grow for ever.

Options:
  --registry PATH  the registry (default: as for \`pamwasm sessions\`)
  --log WHERE      where the modules' close-time syslog lines go: syslog
                   (default; authpriv, with session id, service, user and
                   stack line), stderr or none
  --keep DUR       how long closed and failed sessions stay in the registry (e.g. 7d,
                   12h; default 30d; 0: for ever); open ones always stay
  --json           print one JSON object: {"closed": [...], "forgotten": N}, one
                   entry per session closed, and how many old ones were deleted

Exit status: 0 when every recovered close returned PAM_SUCCESS (or there was
nothing to do), 1 when one did not, 2 on a usage error.`;

const STATES = ['opening', 'open', 'closing', 'closed', 'failed'];

export async function sessionsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { registry: { type: 'string' }, state: { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) {
    console.log(SESSIONS_HELP);
    return 0;
  }
  const bad = values.state?.find((s) => !STATES.includes(s));
  if (bad) throw usage(`--state must be one of ${STATES.join(', ')}, not "${bad}"`, 'sessions');
  const host = await createHost({ registry: values.registry ?? defaultRegistryPath() });
  try {
    const list = host.sessions(values.state as SessionRecord['state'][] | undefined);
    if (values.json) {
      console.log(JSON.stringify(list.map(({ snapshot: _s, ...r }) => r)));
    } else if (list.length === 0) {
      console.log(dim(`no sessions in ${host.registry.path}`));
    } else {
      const rows = [['id', 'state', 'service', 'user', 'tty', 'owner', 'opened', 'closed'].map((h) => bold(h))];
      for (const r of list) {
        rows.push([
          r.id.slice(0, 8), r.state, r.service, r.user, r.tty ?? '-', String(r.ownerPid), r.openedAt,
          r.closedAt ? `${r.closedAt}${r.closedBy ? ` by ${r.closedBy}` : ''}` : '-',
        ]);
      }
      console.log(table(rows));
    }
    return 0;
  } finally {
    await host.shutdown();
  }
}

export async function recoverCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { registry: { type: 'string' }, log: { type: 'string' }, keep: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) {
    console.log(RECOVER_HELP);
    return 0;
  }
  const log = values.log ?? 'syslog';
  if (!LOG_OPTIONS.includes(log)) throw usage(`--log must be ${LOG_OPTIONS.join(', ')}, not "${log}"`, 'recover');
  const keepMs = values.keep === undefined ? DEFAULT_KEEP_MS : duration(values.keep, '--keep', 'recover');
  const host = await createHost({ registry: values.registry ?? defaultRegistryPath(), log: log as LogOption });
  let closed: ClosedRecord[];
  let forgotten = 0;
  try {
    closed = await host.recover();
    // After the closes: a session closed just now ended now, so it stays.
    if (keepMs > 0) forgotten = host.registry.forgetClosedBefore(new Date(Date.now() - keepMs));
  } finally {
    await host.shutdown();
  }
  for (const c of closed) if (c.problem) process.stderr.write(`pamwasm recover: session ${c.id}: ${c.problem}\n`);
  if (values.json) {
    console.log(JSON.stringify({ closed, forgotten }));
  } else {
    if (closed.length === 0) console.log('nothing to recover: no session is left by a process that is gone.');
    for (const c of closed) {
      console.log(`closed ${c.id.slice(0, 8)} (${c.user} on ${c.tty ?? '-'}): ${codeName(c.name, c.code)}`);
      for (const m of c.messages) console.log(`  ${messageTag(m)} ${m.text}`);
    }
    if (forgotten > 0) console.log(dim(`deleted ${forgotten} closed or failed session${forgotten === 1 ? '' : 's'} that ended over ${values.keep ?? '30d'} ago.`));
  }
  return closed.every((c) => c.code === PAM.SUCCESS.number) ? 0 : 1;
}
