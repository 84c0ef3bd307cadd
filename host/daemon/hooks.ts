/**
 * What a stack worker does with one hook: records the session before its
 * open returns, finds a session at close (docs/protocol.md), closes exactly
 * once (registry claims), and logs one line per session event. The worker
 * writes the registry on its own connection to it (WAL: the workers'
 * commits take turns, each a write() to the log with synchronous=NORMAL).
 */
import { codeByNumber, PAM, PAM_SILENT } from '../codes/index.js';
import { processIdentity, type ProcessOwner, type Registry, type SessionRecord } from '../sessions/registry.js';
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
export const ownerOf = (pid: number): ProcessOwner => ({ pid, start: (pid > 0 && processIdentity(pid)) || 'unknown' });

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
  /** Opens that failed since the main thread last heard: no close of theirs needs this worker. */
  released: string[] = [];
  /** Closes answered whose `closed` mark is not yet committed, with what to do once it is. */
  private marks: { id: string; code: number; by: string; then: () => void }[] = [];

  constructor(private readonly registry: Registry, private readonly lock: WriteLock, private readonly runs: StackRuns, private readonly log: DaemonLog, private readonly moduleDir: string | null, private readonly worker: number) {}

  /** Runs one hook from a module; resolves with the code for RESULT. Never rejects. */
  async hook(f: HookFrame, id: string, peerPid: number, reply: Reply): Promise<number> {
    try {
      return f.hook === 'open_session' ? await this.open(f, id, peerPid, reply) : await this.close(f, peerPid, reply);
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
    const r = this.registry.get(id);
    if (!r || !(from as string[]).includes(r.state) || !this.write(() => this.registry.claim(r, from))) return false;
    this.live.delete(id);
    await this.runClose(r, { silent: true, items: recordItems(r), env: r.env }, reply, 'orphan');
    return true;
  }

  private async open(f: HookFrame, id: string, peerPid: number, reply: Reply): Promise<number> {
    const line = lineOf(f.stack, f.items);
    if (!line.service || !line.user) {
      this.log(LOG.err, `open refused: the request has no ${line.service ? 'user' : 'service'} item`);
      this.released.push(id);
      return FAILED;
    }
    const owner = ownerOf(peerPid);
    // Committed before the stack runs: a crash in the middle of the open
    // leaves a row 'opening', which the next start closes. The stack's hash
    // comes with `opened`, from the run that read the stack.
    this.write(() => this.registry.begin({ id, ...line, stackSha256: '', moduleDir: this.moduleDir, systemService: null, systemConfdir: null }, owner));
    // First, so that the handle has the id whatever happens next.
    reply.send({ type: 'session', id });
    const env = envObject(f.env);
    const req: RunRequest = { silent: (f.flags & PAM_SILENT) !== 0, items: f.items, env };
    const done = await this.runs.run(reply, () => this.runs.open(id, f.stack, req));
    const ok = done.code === PAM.SUCCESS.number;
    this.write(() => this.registry.opened(id, ok, done.code, done.env ?? env, done.snapshot ?? { cached: [], data: [], modules: [] }, done.stackSha256));
    if (ok) this.live.set(id, { id, ...line, ownerPid: owner.pid, ownerStart: owner.start });
    else this.released.push(id);
    for (const entry of done.puts) reply.send({ type: 'putenv', entry });
    this.event('open', id, line, peerPid, done);
    return done.code;
  }

  private async close(f: HookFrame, peerPid: number, reply: Reply): Promise<number> {
    const line = lineOf(f.stack, f.items);
    let r: Session | undefined;
    if (f.sessionId) {
      // An id this daemon does not know never falls back to the line: a
      // forked child's close followed by its parent's could close another session.
      r = this.live.get(f.sessionId) ?? this.registry.get(f.sessionId);
      if (!r || r.stack !== f.stack) {
        this.log(LOG.warning, `close session=${f.sessionId} service=${line.service} user=${line.user} line=${line.tty ?? '-'}: no such session${r ? ` for stack ${f.stack}` : ''}`);
        return FAILED;
      }
    } else {
      r = this.registry.findOpen(line, { stack: f.stack, owner: ownerOf(peerPid) });
      if (!r) {
        this.log(LOG.warning, `close service=${line.service} user=${line.user} line=${line.tty ?? '-'} stack=${f.stack}: no open session`);
        return FAILED;
      }
    }
    // An open still running is another worker's only when this one was
    // lost mid-open (the main thread then marks it failed) or the daemon
    // restarted: the hooks of one session run on one worker, in order.
    if (!this.write(() => this.registry.claim(r!, ['opening', 'open']))) {
      this.log(LOG.warning, `close session=${r.id} service=${r.service} user=${r.user} line=${r.tty ?? '-'}: already closed or closing`);
      return FAILED;
    }
    this.live.delete(r.id);
    const o = { silent: (f.flags & PAM_SILENT) !== 0, items: { ...recordItems(r), ...f.items }, env: envObject(f.env) };
    return this.runClose(r, o, reply, 'daemon', peerPid);
  }

  /**
   * Closes a claimed session: on its live instances if this worker holds
   * them, else on fresh ones from the recorded row (module data, frozen
   * chain, module hashes, and the environment as it was at open under the
   * application's). The RESULT leaves before the `closed` mark is
   * committed (with this worker's next write, or at the end of the
   * event-loop turn, microseconds later): a kill -9 between the two leaves the row claimed
   * ('closing'), and the next start runs that close again on fresh
   * instances, as a crash during the close itself does (docs/daemon.md,
   * "Durability"). The log line says what the registry holds: it comes after.
   */
  private async runClose(r: Session | SessionRecord, o: RunRequest, reply: Reply, by: string, peerPid?: number): Promise<number> {
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
    if (this.marks.push({ id: r.id, code: done.code, by: closedBy, then: log }) === 1) setImmediate(() => this.flushMarks());
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
        for (const m of marks) this.registry.closed(m.id, m.code, m.by);
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

  private flushMarks(): void {
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
        this.lock.run(() => this.registry.closed(m.id, m.code, m.by));
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
