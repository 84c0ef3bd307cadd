/**
 * What the daemon does with one hook, whatever carried it: records the
 * session before its open returns, routes each hook to a stack worker,
 * finds a session at close (docs/protocol.md), closes exactly once
 * (registry claims), closes sessions whose application is gone, and logs
 * one line per session event.
 */
import { randomUUID } from 'node:crypto';
import { codeByNumber, PAM, PAM_SILENT } from '../codes/index.js';
import { ownerIsGone, processIdentity, type ProcessOwner, type SessionRecord } from '../sessions/registry.js';
import { recordItems } from '../sessions/wasm-close.js';
import type { Done, Job, WorkerEvent } from './jobs.js';
import { WorkerLostError, type Slot, type WorkerPool } from './pool.js';
import type { RegistryClient } from './registry-client.js';
import type { HookFrame, PromptStyleName, ProtocolItems, ToModule } from './protocol.js';

const FAILED = PAM.SESSION_ERR.number;

/** Where one hook's replies go: the module's connection. */
export interface HookReply {
  send(frame: ToModule): void;
  /** Asks the person; resolves with the application's answer, or its failure code. */
  prompt(style: PromptStyleName, text: string): Promise<{ code: number; text: string }>;
}

/** The daemon's log: one line per session event (syslog or the journal). */
export interface DaemonLog {
  (priority: number, text: string): void;
}
export const LOG = { err: 3, warning: 4, notice: 5, info: 6 } as const;

export interface ServiceOptions {
  /** The daemon's --module-dir, recorded with each session for a close in another process (`pamwasm recover`). */
  moduleDir?: string;
}

/**
 * The application process that opened a session: SO_PEERCRED's pid, with
 * its start time. A pid the daemon cannot see (a peer in another pid
 * namespace gets 0) has start 'unknown', which the pid watch leaves alone.
 */
const ownerOf = (pid: number): ProcessOwner => ({ pid, start: (pid > 0 && processIdentity(pid)) || 'unknown' });

function envObject(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const eq = e.indexOf('=');
    out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}

type LiveSession = Pick<SessionRecord, 'id' | 'stack' | 'service' | 'user' | 'tty' | 'rhost' | 'ruser' | 'ownerPid' | 'ownerStart'>;

const lineOf = (stack: string, items: ProtocolItems) => ({
  stack, service: items.service ?? '', user: items.user ?? '', tty: items.tty ?? null, rhost: items.rhost ?? null, ruser: items.ruser ?? null,
});

export class DaemonService {
  /**
   * Sessions this process opened and has not closed, with what a close
   * through their live instances needs: a close then reads no row.
   */
  private readonly live = new Map<string, LiveSession>();
  /** Sessions whose open runs now: no close may claim them. */
  private readonly opening = new Set<string>();
  private readonly moduleDir: string | null;

  constructor(private readonly registry: RegistryClient, private readonly pool: WorkerPool, private readonly log: DaemonLog, o: ServiceOptions = {}) {
    this.moduleDir = o.moduleDir ?? null;
  }

  /** Runs one hook; resolves with the code for RESULT. Never rejects. */
  async hook(f: HookFrame, peerPid: number, reply: HookReply): Promise<number> {
    try {
      return f.hook === 'open_session' ? await this.open(f, peerPid, reply) : await this.close(f, peerPid, reply);
    } catch (e) {
      this.log(LOG.err, `${f.hook} stack=${f.stack} failed: ${(e as Error).message}`);
      return FAILED;
    }
  }

  /** A worker was lost: the sessions it held stay open in the registry and close later on fresh instances. */
  workerLost(index: number, sessions: string[], reason: string): void {
    this.log(LOG.err, `worker ${index} ${reason}; ${sessions.length} open session(s) will close on fresh instances: ${sessions.join(' ') || '-'}`);
  }

  /**
   * At start: closes, exactly once, the sessions a previous daemon left
   * whose application is gone (half-opened and half-closed ones too).
   */
  async recoverAtStart(): Promise<number> {
    let closed = 0;
    for (const r of await this.registry.call('list', ['opening', 'open', 'closing'])) {
      if (ownerIsGone(r) && (await this.closeOrphan(r))) closed++;
    }
    return closed;
  }

  /**
   * The pid watch (in the registry thread) found these sessions' applications
   * gone. One whose open runs in this daemon now is left to that open.
   */
  async orphansFound(ids: string[]): Promise<number> {
    let closed = 0;
    for (const id of ids) {
      const r = this.opening.has(id) ? undefined : await this.registry.call('get', id);
      if ((r?.state === 'open' || r?.state === 'opening') && (await this.closeOrphan(r))) closed++;
    }
    return closed;
  }

  private async closeOrphan(r: SessionRecord): Promise<boolean> {
    if (!(await this.registry.call('claim', r, ['opening', 'open', 'closing']))) return false;
    this.live.delete(r.id);
    const noReply: HookReply = { send: () => {}, prompt: async () => ({ code: PAM.CONV_ERR.number, text: '' }) };
    await this.runClose(r, { silent: true, items: recordItems(r), env: r.env }, noReply, 'orphan');
    return true;
  }

  private async open(f: HookFrame, peerPid: number, reply: HookReply): Promise<number> {
    const line = lineOf(f.stack, f.items);
    if (!line.service || !line.user) {
      this.log(LOG.err, `open refused: the request has no ${line.service ? 'user' : 'service'} item`);
      return FAILED;
    }
    const id = randomUUID();
    const owner = ownerOf(peerPid);
    this.opening.add(id);
    // Not awaited: the writes of one daemon commit in order, so the row is
    // in before `opened` below, which the RESULT waits for. The stack's hash
    // comes with `opened`, from the worker that read the stack.
    void this.registry.call('begin', { id, ...line, stackSha256: '', moduleDir: this.moduleDir, systemService: null, systemConfdir: null }, owner).catch(() => {});
    // First, so that the handle has the id whatever happens next.
    reply.send({ type: 'session', id });
    const env = envObject(f.env);
    const job: Job = { t: 'open', id, stack: f.stack, silent: (f.flags & PAM_SILENT) !== 0, items: f.items, env };
    let done: Done;
    let worker: number;
    try {
      ({ done, slot: { index: worker } } = await this.runAnywhere(job, reply));
    } catch (e) {
      if (!(e instanceof WorkerLostError)) throw e;
      await this.registry.call('failed', id, FAILED);
      this.opening.delete(id);
      this.log(LOG.err, `open session=${id} service=${line.service} user=${line.user} line=${line.tty ?? '-'} code=PAM_SESSION_ERR: ${e.message}`);
      return FAILED;
    }
    const ok = done.code === PAM.SUCCESS.number;
    await this.registry.call('opened', id, ok, done.code, done.env ?? env, done.snapshot ?? { cached: [], data: [], modules: [] }, done.stackSha256);
    this.opening.delete(id);
    if (ok) {
      this.live.set(id, { id, ...line, ownerPid: owner.pid, ownerStart: owner.start });
    }
    for (const entry of done.puts) reply.send({ type: 'putenv', entry });
    this.event('open', id, line, peerPid, worker, done);
    return done.code;
  }

  private async close(f: HookFrame, peerPid: number, reply: HookReply): Promise<number> {
    const line = lineOf(f.stack, f.items);
    let r: LiveSession | SessionRecord | undefined;
    if (f.sessionId) {
      // An id this daemon does not know never falls back to the line: a
      // forked child's close followed by its parent's could close another session.
      r = this.live.get(f.sessionId) ?? (await this.registry.call('get', f.sessionId));
      if (!r || r.stack !== f.stack) {
        this.log(LOG.warning, `close session=${f.sessionId} service=${line.service} user=${line.user} line=${line.tty ?? '-'}: no such session${r ? ` for stack ${f.stack}` : ''}`);
        return FAILED;
      }
    } else {
      r = await this.registry.call('findOnLine', line, ownerOf(peerPid));
      if (!r) {
        this.log(LOG.warning, `close service=${line.service} user=${line.user} line=${line.tty ?? '-'} stack=${f.stack}: no open session`);
        return FAILED;
      }
    }
    const from = this.opening.has(r.id) ? [] : (['opening', 'open'] as const);
    const seen = r;
    if (!(await this.registry.call('claim', seen, [...from]))) {
      this.log(LOG.warning, `close session=${r.id} service=${r.service} user=${r.user} line=${r.tty ?? '-'}: already closed or closing`);
      return FAILED;
    }
    this.live.delete(r.id);
    const o = { silent: (f.flags & PAM_SILENT) !== 0, items: { ...recordItems(r), ...f.items }, env: envObject(f.env) };
    return this.runClose(r, o, reply, 'daemon', peerPid);
  }

  /**
   * Closes a claimed session: on its live instances if its worker holds
   * them, else on fresh ones from the recorded row (module data, frozen
   * chain, module hashes, and the environment as it was at open under the
   * application's).
   */
  private async runClose(r: LiveSession, o: { silent: boolean; items: ProtocolItems; env: Record<string, string> }, reply: HookReply, by: string, peerPid?: number): Promise<number> {
    const slot: Slot | undefined = this.pool.holderOf(r.id);
    let job: Job;
    if (slot) {
      job = { t: 'close', id: r.id, ...o };
    } else {
      const row = 'snapshot' in r ? (r as SessionRecord) : (await this.registry.call('get', r.id))!;
      job = {
        t: 'close-record', id: r.id, silent: o.silent, items: o.items, env: { ...row.env, ...o.env },
        record: { stack: row.stack, stackSha256: row.stackSha256, moduleDir: row.moduleDir, snapshot: row.snapshot },
      };
    }
    const closedBy = slot ? by : `${by}-record`;
    try {
      const { done, slot: ran } = await this.pool.run(job, this.relay(reply), slot);
      // Not awaited: the RESULT leaves in this turn and the commit follows
      // at the end of it (group commit). A kill -9 between the two leaves
      // the row claimed ('closing'), and the next start runs that close
      // again on fresh instances: what a crash during the close itself
      // does too, whatever the order (docs/daemon.md, "Durability"). The
      // log line says what the registry holds: it comes after the commit.
      void this.registry.call('closed', r.id, done.code, closedBy).then(
        () => (peerPid === undefined ? this.orphanClosed(r, done.code) : this.event('close', r.id, r, peerPid, ran.index, done, closedBy)),
        (e: Error) => this.log(LOG.err, `close session=${r.id}: not recorded as closed (a restart will close it again): ${e.message}`),
      );
      for (const entry of done.puts) reply.send({ type: 'putenv', entry });
      return done.code;
    } catch (e) {
      if (!(e instanceof WorkerLostError)) throw e;
      // Queued behind the hook that cost the worker: it runs on fresh instances from the record.
      if (!e.started) return this.runClose(r, o, reply, by, peerPid);
      // The close ran, in part: it is not run again.
      await this.registry.call('closed', r.id, FAILED, `${closedBy}-lost`);
      this.log(LOG.err, `close session=${r.id} service=${r.service} user=${r.user} line=${r.tty ?? '-'} code=PAM_SESSION_ERR: ${e.message}`);
      if (peerPid === undefined) this.orphanClosed(r, FAILED);
      return FAILED;
    }
  }

  /** Runs a job on any worker; one lost with its worker before it started runs on another. */
  private async runAnywhere(job: Job, reply: HookReply): ReturnType<WorkerPool['run']> {
    try {
      return await this.pool.run(job, this.relay(reply));
    } catch (e) {
      if (!(e instanceof WorkerLostError) || e.started) throw e;
      return this.pool.run(job, this.relay(reply));
    }
  }

  /** Relays a worker's messages, prompts and syslog lines to the module, in order. */
  private relay(reply: HookReply): (e: WorkerEvent, slot: Slot) => void {
    return (e, slot) => {
      if (e.t === 'message') reply.send({ type: 'message', style: e.style, text: e.text });
      else if (e.t === 'syslog') reply.send({ type: 'syslog', priority: e.priority, text: e.text });
      else void reply.prompt(e.style, e.text).then((a) => this.pool.answer(slot, e.seq, a.code, a.text));
    };
  }

  /** The log line of a close the daemon ran for a session whose application is gone. */
  private orphanClosed(r: LiveSession, code: number): void {
    this.log(LOG.notice, `close session=${r.id} service=${r.service} user=${r.user} line=${r.tty ?? '-'} pid=${r.ownerPid} by=orphan code=${codeByNumber(code).name}`);
  }

  private event(hook: string, id: string, l: { service: string; user: string; tty: string | null; rhost?: string | null }, pid: number, worker: number, done: Done, by?: string): void {
    const name = codeByNumber(done.code).name;
    const priority = done.code === PAM.SUCCESS.number ? LOG.info : LOG.warning;
    const extra = [...done.faults, ...(done.problem ? [done.problem] : [])];
    this.log(priority, `${hook} session=${id} service=${l.service} user=${l.user} line=${l.tty ?? '-'}${l.rhost ? ` rhost=${l.rhost}` : ''} pid=${pid} worker=${worker}${by ? ` by=${by}` : ''} code=${name}${extra.length ? `: ${extra.join('; ')}` : ''}`);
  }
}
