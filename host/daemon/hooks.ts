/**
 * What a stack worker does with one hook: records the session before its
 * open returns, finds a session at close (docs/protocol.md), closes exactly
 * once, and logs one line per session event. The worker writes the
 * registry on its own connection to it (WAL: the workers' commits take
 * turns, each a write() to the log with synchronous=NORMAL).
 *
 * With `--sync normal` a worker records its opens and closes in a pending
 * file of its own instead (sessions/pending.ts): one write(2) each, folded
 * into the database before anything reads it.
 *
 * Exactly once: the closes of a session whose instances this worker holds
 * all come to this worker (ids.ts), one at a time, so its own map of live
 * sessions decides between them without a write; a close on fresh
 * instances (the holder was lost, or the daemon restarted) claims the row
 * first, as `pamwasm recover` does.
 */
import { codeByNumber, PAM, PAM_SILENT } from '../codes/index.js';
import type { PendingWriter } from '../sessions/pending.js';
import type { ProcessOwner, Registry, SessionRecord } from '../sessions/registry.js';
import { processStart } from './libc.js';
import { recordItems } from '../sessions/wasm-close.js';
import type { Reply } from './conn.js';
import { LOG, type DaemonLog } from './log.js';
import type { HookFrame, ProtocolItems } from './protocol.js';
import type { Done, RunRequest, StackRuns } from './runs.js';
import type { WriteLock } from './write-lock.js';

const FAILED = PAM.SESSION_ERR.number;

/**
 * The application process that opened a session: SO_PEERCRED's pid, with
 * its start time. A pid the daemon cannot see (a peer in another pid
 * namespace gets 0) has start 'unknown', which the pid watch leaves alone.
 */
export const ownerOf = (pid: number): ProcessOwner => ({ pid, start: (pid > 0 && processStart(pid)) || 'unknown' });

export const lineOf = (stack: string, items: ProtocolItems) => ({
  stack, service: items.service ?? '', user: items.user ?? '', tty: items.tty ?? null, rhost: items.rhost ?? null, ruser: items.ruser ?? null,
});

function envObject(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const eq = e.indexOf('=');
    out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}

type Session = Pick<SessionRecord, 'id' | 'stack' | 'service' | 'user' | 'tty' | 'rhost' | 'ruser' | 'ownerPid' | 'ownerStart'>;

export class HookService {
  /** Sessions this worker opened and holds: a close through their live instances reads no row. */
  private readonly live = new Map<string, Session>();
  /** Closes answered whose `closed` mark is not yet committed, with what to do once it is. */
  private marks: { id: string; code: number; by: string; from: 'open' | 'closing'; then: () => void }[] = [];

  constructor(private readonly registry: Registry, private readonly lock: WriteLock, private readonly runs: StackRuns, private readonly log: DaemonLog, private readonly moduleDir: string | null, private readonly worker: number, private readonly pending?: PendingWriter) {}

  /** Runs one hook from a module; resolves with the code for RESULT. Never rejects. */
  async hook(f: HookFrame, id: string, peerPid: number, reply: Reply): Promise<number> {
    try {
      return f.hook === 'open_session' ? await this.open(f, id, peerPid, reply) : await this.close(f, id, peerPid, reply);
    } catch (e) {
      this.log(LOG.err, `${f.hook} stack=${f.stack} failed: ${(e as Error).message}`);
      return FAILED;
    }
  }

  /**
   * Closes a session whose application is gone, exactly once (the claim
   * decides between this, the application's own close and `recover`).
   */
  async orphan(id: string, from: ('opening' | 'open' | 'closing')[], reply: Reply): Promise<boolean> {
    // Closed by its application already, its mark not yet committed.
    if (this.marks.some((m) => m.id === id)) return false;
    const r = this.registry.get(id);
    if (!r || !(from as string[]).includes(r.state) || !this.write(() => this.registry.claim(r, from))) {
      // Another closer (`recover`) has it: its instances here are done with.
      if (this.live.delete(id)) this.runs.drop(id);
      return false;
    }
    this.live.delete(id);
    await this.runClose(r, { silent: true, items: recordItems(r), env: r.env }, reply, 'orphan', 'closing');
    return true;
  }

  private async open(f: HookFrame, id: string, peerPid: number, reply: Reply): Promise<number> {
    const line = lineOf(f.stack, f.items);
    if (!line.service || !line.user) {
      this.log(LOG.err, `open refused: the request has no ${line.service ? 'user' : 'service'} item`);
      return FAILED;
    }
    const owner = ownerOf(peerPid);
    // First, so that the handle has the id whatever happens next.
    reply.send({ type: 'session', id });
    const env = envObject(f.env);
    const req: RunRequest = { silent: (f.flags & PAM_SILENT) !== 0, items: f.items, env };
    const done = await this.runs.run(reply, () => this.runs.open(id, f.stack, req));
    const ok = done.code === PAM.SUCCESS.number;
    // Recorded before the RESULT leaves: appended to the pending file, or in
    // one commit with the close marks that wait.
    const row = { id, ...line, stackSha256: done.stackSha256 ?? '', moduleDir: this.moduleDir, systemService: null, systemConfdir: null };
    const snapshot = done.snapshot ?? { cached: [], data: [], modules: [] };
    try {
      if (this.pending) {
        this.pending.append({
          k: 'open', id, state: ok ? 'open' : 'failed', ...line, stackSha256: row.stackSha256, moduleDir: row.moduleDir, env: JSON.stringify(done.env ?? env),
          snapshot: JSON.stringify(snapshot), ownerPid: owner.pid, ownerStart: owner.start, at: new Date().toISOString(), code: done.code,
        });
      } else {
        this.write(() => this.registry.record(row, owner, ok, done.code, done.env ?? env, snapshot));
      }
    } catch (e) {
      // Not recorded: not a session. Its instances go, and the open fails closed.
      if (ok) this.runs.drop(id);
      throw e;
    }
    if (ok) this.live.set(id, { id, ...line, ownerPid: owner.pid, ownerStart: owner.start });
    for (const entry of done.puts) reply.send({ type: 'putenv', entry });
    this.event('open', id, line, peerPid, done);
    return done.code;
  }

  /** The id of the newest open session on a close's line ('' if none): a close without an id. */
  findOpen(f: HookFrame, peerPid: number): string {
    return this.registry.findOpen(lineOf(f.stack, f.items), { stack: f.stack, owner: ownerOf(peerPid) })?.id ?? '';
  }

  private async close(f: HookFrame, id: string, peerPid: number, reply: Reply): Promise<number> {
    const line = lineOf(f.stack, f.items);
    if (!id) {
      this.log(LOG.warning, `close service=${line.service} user=${line.user} line=${line.tty ?? '-'} stack=${f.stack}: no open session`);
      return FAILED;
    }
    const o = (r: Session) => ({ silent: (f.flags & PAM_SILENT) !== 0, items: { ...recordItems(r), ...f.items }, env: envObject(f.env) });
    const held = this.live.get(id);
    if (held && held.stack === f.stack) {
      this.live.delete(id);
      return this.runClose(held, o(held), reply, 'daemon', 'open', peerPid);
    }
    // An id this daemon does not know never falls back to the line: a
    // forked child's close followed by its parent's could close another session.
    const r = this.registry.get(id);
    if (!r || r.stack !== f.stack || held) {
      this.log(LOG.warning, `close session=${id} service=${line.service} user=${line.user} line=${line.tty ?? '-'}: no such session${r ? ` for stack ${f.stack}` : ''}`);
      return FAILED;
    }
    // On fresh instances: the claim decides between this close, an orphan's and `recover`.
    if (!this.write(() => this.registry.claim(r, ['opening', 'open']))) {
      this.log(LOG.warning, `close session=${r.id} service=${r.service} user=${r.user} line=${r.tty ?? '-'}: already closed or closing`);
      return FAILED;
    }
    return this.runClose(r, o(r), reply, 'daemon', 'closing', peerPid);
  }

  /**
   * Closes a session: on its live instances if this worker holds them,
   * else on fresh ones from the recorded row (module data, frozen chain,
   * module hashes, and the environment as it was at open under the
   * application's). With a pending file the `closed` mark is written
   * before the RESULT leaves. Without one, the RESULT leaves before the
   * mark is committed (with this worker's next write, or once it has had
   * nothing to do for a few milliseconds): a kill -9 between the two leaves
   * the row open (or claimed), and the next start runs that close again on
   * fresh instances, as a crash during the close itself does
   * (docs/daemon.md, "Durability"). The log line says what the registry
   * holds: it comes after.
   */
  private async runClose(r: Session | SessionRecord, o: RunRequest, reply: Reply, by: string, from: 'open' | 'closing', peerPid?: number): Promise<number> {
    const held = this.runs.holds(r.id);
    let done: Done;
    if (held) {
      done = await this.runs.run(reply, () => this.runs.close(r.id, o));
    } else {
      const row = 'snapshot' in r ? r : this.registry.get(r.id)!;
      const record = { stack: row.stack, stackSha256: row.stackSha256, moduleDir: row.moduleDir, snapshot: row.snapshot };
      done = await this.runs.run(reply, () => this.runs.closeRecord(record, { ...o, env: { ...row.env, ...o.env } }));
    }
    const closedBy = held ? by : `${by}-record`;
    for (const entry of done.puts) reply.send({ type: 'putenv', entry });
    const log = () => {
      if (peerPid === undefined) this.log(LOG.notice, `close session=${r.id} service=${r.service} user=${r.user} line=${r.tty ?? '-'} pid=${r.ownerPid} by=orphan code=${codeByNumber(done.code).name}`);
      else this.event('close', r.id, r, peerPid, done, closedBy);
    };
    if (this.pending) {
      // Recorded before the RESULT leaves: a kill -9 after it runs this close no second time.
      try {
        this.pending.append({ k: 'closed', id: r.id, code: done.code, by: closedBy, from, at: new Date().toISOString() });
        log();
      } catch (e) {
        this.log(LOG.err, `close session=${r.id}: not recorded as closed (a restart will close it again): ${(e as Error).message}`);
      }
      return done.code;
    }
    this.marks.push({ id: r.id, code: done.code, by: closedBy, from, then: log });
    return done.code;
  }

  /**
   * One registry transaction, under the daemon's write lock, that also
   * commits the `closed` marks waiting: under load a worker's hooks follow
   * each other within one event-loop turn, and a mark then rides on the
   * next hook's write instead of costing a commit of its own. Idle, the
   * marks commit at the end of the turn.
   */
  private write<T>(fn: () => T): T {
    const marks = this.marks.splice(0);
    let out!: T;
    try {
      this.lock.run(() => this.registry.batch(() => {
        for (const m of marks) this.registry.closed(m.id, m.code, m.by, m.from);
        out = fn();
      }));
    } catch (e) {
      // Rolled back: the marks go in on their own, and `fn`'s failure is the caller's.
      this.commitMarks(marks);
      throw e;
    }
    for (const m of marks) m.then();
    return out;
  }

  get pendingMarks(): number {
    return this.marks.length;
  }

  /** Commits the close marks that wait (the worker has nothing else to do). */
  flushMarks(): void {
    if (this.marks.length === 0) return;
    try {
      this.write(() => {});
    } catch {
      // Each mark was tried on its own and its failure logged (commitMarks).
    }
  }

  private commitMarks(marks: typeof this.marks): void {
    for (const m of marks) {
      try {
        this.lock.run(() => this.registry.closed(m.id, m.code, m.by, m.from));
        m.then();
      } catch (e) {
        this.log(LOG.err, `close session=${m.id}: not recorded as closed (a restart will close it again): ${(e as Error).message}`);
      }
    }
  }

  private event(hook: string, id: string, l: { service: string; user: string; tty: string | null; rhost?: string | null }, pid: number, done: Done, by?: string): void {
    const name = codeByNumber(done.code).name;
    const priority = done.code === PAM.SUCCESS.number ? LOG.info : LOG.warning;
    const extra = [...done.faults, ...(done.problem ? [done.problem] : [])];
    this.log(priority, `${hook} session=${id} service=${l.service} user=${l.user} line=${l.tty ?? '-'}${l.rhost ? ` rhost=${l.rhost}` : ''} pid=${pid} worker=${this.worker}${by ? ` by=${by}` : ''} code=${name}${extra.length ? `: ${extra.join('; ')}` : ''}`);
  }
}
