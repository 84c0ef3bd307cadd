/**
 * The durable session registry: one SQLite row per session, written before
 * openSession returns, so that a session whose host died (kill -9, power
 * loss) can still be closed, exactly once, with what it saved at open.
 *
 * A row is claimed by a conditional UPDATE (state 'open' -> 'closing'); only
 * the one caller whose UPDATE changed the row runs the close, which is what
 * makes every close happen once across processes (the API, `recover` and
 * pam_exec's close process). Like utmp, a close from another process finds
 * its open by service, user and terminal line.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { createRequire } from 'node:module';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors/index.js';
import { sha256 } from '../loader/names.js';
import { strictByDefault } from '../sandbox/index.js';
import { decodePending, parsePendingName, pendingPrefix, readPendingFile, type PendingRecord } from './pending.js';
import { startTimeOf } from './proc-stat.js';
import type { SessionSnapshot } from '../stack/index.js';

export type SessionState = 'opening' | 'open' | 'closing' | 'closed' | 'failed';

export interface SessionRecord {
  id: string;
  state: SessionState;
  service: string;
  user: string;
  tty: string | null;
  rhost: string | null;
  ruser: string | null;
  /** The WASM stack file, and its sha256 at open. */
  stack: string;
  stackSha256: string;
  moduleDir: string | null;
  systemService: string | null;
  systemConfdir: string | null;
  /** The PAM environment after open. */
  env: Record<string, string>;
  snapshot: SessionSnapshot | null;
  ownerPid: number;
  ownerStart: string;
  openedAt: string;
  closedAt: string | null;
  openCode: number | null;
  closeCode: number | null;
  closedBy: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  service TEXT NOT NULL,
  user TEXT NOT NULL,
  tty TEXT, rhost TEXT, ruser TEXT,
  stack TEXT NOT NULL,
  stack_sha256 TEXT NOT NULL,
  module_dir TEXT,
  system_service TEXT, system_confdir TEXT,
  env TEXT NOT NULL DEFAULT '{}',
  snapshot TEXT,
  owner_pid INTEGER NOT NULL,
  owner_start TEXT NOT NULL,
  opened_at TEXT NOT NULL,
  closed_at TEXT,
  open_code INTEGER, close_code INTEGER, closed_by TEXT
);
CREATE INDEX IF NOT EXISTS sessions_by_line ON sessions (service, user, tty, state);
CREATE INDEX IF NOT EXISTS sessions_by_state ON sessions (state);
CREATE TABLE IF NOT EXISTS pending_folded (file TEXT PRIMARY KEY, offset INTEGER NOT NULL);
`;

/**
 * The registry's default file: /var/lib/pamwasm/registry.db as root, else
 * $XDG_STATE_HOME/pamwasm/registry.db (~/.local/state/pamwasm/registry.db).
 */
export const defaultRegistryPath = (): string =>
  strictByDefault() ? '/var/lib/pamwasm/registry.db' : join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'pamwasm', 'registry.db');

/** This process's identity: its pid and start time, so a reused pid is not mistaken for it. */
export function processIdentity(pid = process.pid): string | undefined {
  try {
    return startTimeOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

const SELF_START = processIdentity() ?? String(Date.now());

/** True when the process that owned a row is gone (or is another process now). */
export function ownerIsGone(r: Pick<SessionRecord, 'ownerPid' | 'ownerStart'>): boolean {
  const now = processIdentity(r.ownerPid);
  return now === undefined || now !== r.ownerStart;
}

/** A process as the registry names an owner: pid and start time. */
export interface ProcessOwner { pid: number; start: string }

// Loaded with require, not import: better-sqlite3 is CommonJS, and importing
// it as ES module costs about 7 ms of CPU more (the CJS export scan), paid by
// every `pamwasm exec` at every login.
const requireHere = createRequire(import.meta.url);
const Database = requireHere('better-sqlite3') as typeof BetterSqlite3;

/**
 * better-sqlite3's native addon, where its `bindings` helper would find it
 * first: that helper reads a stack trace and tries a dozen paths, about 2 ms
 * at every `pamwasm exec`. Undefined (the helper's own search) when none of
 * these is there.
 */
const nativeBinding = ((): string | undefined => {
  try {
    const build = join(dirname(requireHere.resolve('better-sqlite3')), '..', 'build');
    return ['better_sqlite3.node', 'Debug/better_sqlite3.node', 'Release/better_sqlite3.node'].map((f) => join(build, f)).find((f) => existsSync(f));
  } catch {
    return undefined;
  }
})();

/** How long a closed or failed session stays in a registry by default: a month of logins to look back on. */
export const DEFAULT_KEEP_MS = 30 * 86_400_000;

type Row = Record<string, unknown>;

/** A column's name as a SessionRecord key: stack_sha256 -> stackSha256. */
const recordKey = (column: string): string => column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A row as a SessionRecord: its columns in table order, env and snapshot parsed. */
function toRecord(row: Row): SessionRecord {
  const record: Row = {};
  for (const [column, value] of Object.entries(row)) {
    record[recordKey(column)] = column === 'env' ? JSON.parse(value as string)
      : column === 'snapshot' ? (value ? JSON.parse(value as string) : null)
        : value;
  }
  return record as unknown as SessionRecord;
}

/** What identifies the line a session is on: the PAM items a close matches. */
export type SessionLine = Pick<SessionRecord, 'service' | 'user' | 'tty' | 'rhost' | 'ruser'>;

export type NewSession = Pick<SessionRecord, 'id' | 'service' | 'user' | 'tty' | 'rhost' | 'ruser' | 'stack' | 'stackSha256' | 'moduleDir' | 'systemService' | 'systemConfdir'>;

/**
 * What a fold did: records applied, the pending files it removed, and of
 * those the ones that ended in bytes that were no whole record (a write
 * cut short by a kill or a power loss: the event it held was never answered).
 */
export interface FoldResult { records: number; removed: string[]; torn: { file: string; bytes: number }[] }

export class Registry {
  private readonly db: BetterSqlite3.Database;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  /** The folder pending files are looked for in, and what their names start with (none for `:memory:`). */
  private readonly pending?: { dir: string; prefix: string };

  /**
   * Opens (creating if need be) the registry at `path`; `:memory:` for a
   * throwaway one. Only the default path's folder is made: a mistyped path
   * would otherwise give a registry that `pamwasm recover` never looks at,
   * so a folder that does not exist is a UsageError. `synchronous` is
   * SQLite's setting in WAL mode: 'full' (default) makes every commit survive
   * a power loss; 'normal' survives a crash or kill -9 of this process but
   * may lose the last commits to a power loss or OS crash, at about a
   * hundredth of the cost.
   */
  constructor(readonly path: string, o: { synchronous?: 'full' | 'normal'; checkpoints?: 'auto' | 'manual' } = {}) {
    if (path !== ':memory:' && path !== '') {
      const dir = dirname(resolve(path));
      if (resolve(path) === resolve(defaultRegistryPath())) mkdirSync(dir, { recursive: true, mode: 0o700 });
      else if (!existsSync(dir)) {
        throw new UsageError(`the registry folder ${dir} does not exist: fix the registry path, or create the folder (mkdir -m 700 ${dir}).`);
      }
      // The rows hold module data and PAM environments: readable by the owner
      // only, whatever the umask (SQLite gives the -wal and -shm files the
      // database file's mode).
      closeSync(openSync(path, 'a', 0o600));
    }
    this.db = new Database(path, nativeBinding ? { nativeBinding } : {});
    if (path !== ':memory:' && path !== '') this.pending = { dir: dirname(resolve(path)), prefix: pendingPrefix(path) };
    // WAL lets pam_exec's open and close processes and a long-lived host share the file.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${o.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    this.db.pragma('busy_timeout = 5000');
    // 'manual': this connection's commits never copy the log into the
    // database (and fsync it); another connection calls checkpoint().
    if (o.checkpoints === 'manual') this.db.pragma('wal_autocheckpoint = 0');
    this.db.exec(SCHEMA);
  }

  /** Copies what the write-ahead log holds into the database, as far as no reader or writer is kept waiting. */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  /**
   * Records a session as opening. Its owner, the process whose death makes
   * it an orphan for `recover`, is this process unless `owner` names another:
   * `pamwasm exec` exits right after open, so it names the libpam application
   * that called pam_exec (its parent), which holds the session until it
   * closes it.
   */
  begin(s: NewSession, owner?: ProcessOwner): void {
    this.sql(`INSERT INTO sessions (id, state, service, user, tty, rhost, ruser, stack, stack_sha256, module_dir,
      system_service, system_confdir, owner_pid, owner_start, opened_at)
      VALUES (@id, 'opening', @service, @user, @tty, @rhost, @ruser, @stack, @stackSha256, @moduleDir,
      @systemService, @systemConfdir, @pid, @start, @now)`)
      .run({ ...s, pid: owner?.pid ?? process.pid, start: owner?.start ?? SELF_START, now: new Date().toISOString() });
  }

  /**
   * Marks an opening session open (or failed) with what its close needs;
   * `stackSha256`, when given, is the stack file's hash as the open read it.
   */
  opened(id: string, ok: boolean, code: number, env: Record<string, string>, snapshot: SessionSnapshot, stackSha256?: string): void {
    this.sql(`UPDATE sessions SET state = @state, open_code = @code, env = @env, snapshot = @snapshot,
      stack_sha256 = COALESCE(@sha, stack_sha256),
      closed_at = CASE WHEN @state = 'failed' THEN @now ELSE NULL END WHERE id = @id AND state = 'opening'`)
      .run({ id, state: ok ? 'open' : 'failed', code, env: JSON.stringify(env), snapshot: JSON.stringify(snapshot), sha: stackSha256 ?? null, now: new Date().toISOString() });
  }

  /**
   * Records a session whose open has run, in one write: open (or failed)
   * with what its close needs. The daemon records a session once its open
   * has run and before the open returns: an open that never returned
   * opened nothing the application will close.
   */
  record(s: NewSession, owner: ProcessOwner, ok: boolean, code: number, env: Record<string, string>, snapshot: SessionSnapshot): void {
    this.fold();
    this.insert('INSERT', {
      ...s, state: ok ? 'open' : 'failed', env: JSON.stringify(env), snapshot: JSON.stringify(snapshot),
      ownerPid: owner.pid, ownerStart: owner.start, at: new Date().toISOString(), code,
    });
  }

  /**
   * A session's row once its open has run, opened at `at` (and ended then
   * if it failed): `INSERT` fails on an id already there, `INSERT OR IGNORE`
   * (a fold) leaves that row as it is.
   */
  private insert(verb: 'INSERT' | 'INSERT OR IGNORE', r: NewSession & Pick<SessionRecord, 'ownerPid' | 'ownerStart'> & { state: 'open' | 'failed'; env: string; snapshot: string; at: string; code: number }): void {
    this.sql(`${verb} INTO sessions (id, state, service, user, tty, rhost, ruser, stack, stack_sha256, module_dir,
      system_service, system_confdir, env, snapshot, owner_pid, owner_start, opened_at, closed_at, open_code)
      VALUES (@id, @state, @service, @user, @tty, @rhost, @ruser, @stack, @stackSha256, @moduleDir,
      @systemService, @systemConfdir, @env, @snapshot, @ownerPid, @ownerStart, @at, @closedAt, @code)`)
      .run({
        id: r.id, state: r.state, service: r.service, user: r.user, tty: r.tty, rhost: r.rhost, ruser: r.ruser, stack: r.stack, stackSha256: r.stackSha256,
        moduleDir: r.moduleDir, systemService: r.systemService, systemConfdir: r.systemConfdir, env: r.env, snapshot: r.snapshot,
        ownerPid: r.ownerPid, ownerStart: r.ownerStart, at: r.at, closedAt: r.state === 'failed' ? r.at : null, code: r.code,
      });
  }

  /** Marks an opening session failed: never opened, so nothing to close and no module data. */
  failed(id: string, code: number): void {
    this.opened(id, false, code, {}, { cached: [], data: [], modules: [] });
  }

  /**
   * Claims a session for closing; true for exactly one caller. The row must
   * still be in one of `from` and still belong to the owner the caller saw,
   * so two recoveries racing for one orphan cannot both win.
   */
  claim(seen: Pick<SessionRecord, 'id' | 'ownerPid' | 'ownerStart'>, from: SessionState[]): boolean {
    this.fold();
    const states = from.map(() => '?').join(',');
    return this.sql(`UPDATE sessions SET state = 'closing', owner_pid = ?, owner_start = ?
      WHERE id = ? AND owner_pid = ? AND owner_start = ? AND state IN (${states})`)
      .run(process.pid, SELF_START, seen.id, seen.ownerPid, seen.ownerStart, ...from).changes === 1;
  }

  /**
   * Records a claimed session as closed; `from: 'open'` closes one that
   * needed no claim (its instances' holder closed it). False when the row
   * was not in that state.
   */
  closed(id: string, code: number, by: string, from: 'closing' | 'open' = 'closing'): boolean {
    this.fold();
    return this.markClosed(id, code, by, from, new Date().toISOString());
  }

  private markClosed(id: string, code: number, by: string, from: 'closing' | 'open', at: string): boolean {
    return this.sql(`UPDATE sessions SET state = 'closed', close_code = ?, closed_by = ?, closed_at = ? WHERE id = ? AND state = ?`)
      .run(code, by, at, id, from).changes === 1;
  }

  /**
   * Deletes closed and failed sessions that ended before `before`; returns
   * how many. Open, opening and closing ones stay. In commits of at most
   * 500 rows, oldest first, so that a registry's first clean-up never holds
   * the write lock for long.
   */
  forgetClosedBefore(before: Date): number {
    const batch = this.sql(`DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions
      WHERE state IN ('closed', 'failed') AND closed_at < ? ORDER BY rowid LIMIT 500)`);
    let total = 0;
    for (let n = 500; n === 500; total += n) n = batch.run(before.toISOString()).changes;
    return total;
  }

  /** The ids of open sessions whose id ends with `suffix` (those a lost daemon worker held). */
  openIdsEndingWith(suffix: string): string[] {
    this.fold();
    return (this.sql(`SELECT id FROM sessions WHERE state = 'open' AND substr(id, -length(@s)) = @s`).all({ s: suffix }) as { id: string }[]).map((r) => r.id);
  }

  get(id: string): SessionRecord | undefined {
    this.fold();
    const row = this.sql('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  /**
   * The newest open session on a line (service, user, terminal, remote host
   * and remote user), as utmp finds a login; two handles that differ only
   * in rhost or ruser never get each other's session. `stack` keeps to sessions of that stack file (two
   * pam_exec lines of one service run two stacks). A session owned by
   * `owner` comes first: pam_exec forks its open and close processes from
   * the application process that holds the PAM handle, so the session that
   * process opened is the one it closes, even when one user has several
   * sessions on the same line (sshd without a pty: tty "ssh").
   */
  findOpen(line: SessionLine, o: { stack?: string; owner?: ProcessOwner } = {}): SessionRecord | undefined {
    this.fold();
    const row = this.sql(`SELECT * FROM sessions WHERE service = @service AND user = @user AND tty IS @tty
      AND rhost IS @rhost AND ruser IS @ruser AND state = 'open' AND (@stack IS NULL OR stack = @stack)
      ORDER BY (owner_pid = @pid AND owner_start = @start) DESC, opened_at DESC, rowid DESC LIMIT 1`)
      .get({ ...line, stack: o.stack ?? null, pid: o.owner?.pid ?? null, start: o.owner?.start ?? null }) as Row | undefined;
    return row && toRecord(row);
  }

  list(states?: SessionState[]): SessionRecord[] {
    this.fold();
    const rows = states
      ? this.db.prepare(`SELECT * FROM sessions WHERE state IN (${states.map(() => '?').join(',')}) ORDER BY opened_at`).all(...states)
      : this.db.prepare('SELECT * FROM sessions ORDER BY opened_at').all();
    return (rows as Row[]).map(toRecord);
  }

  /**
   * Each opening or open session's id and owner, and nothing else: cheap
   * enough to scan often (the daemon's pid watch).
   */
  openOwners(): { id: string; ownerPid: number; ownerStart: string }[] {
    this.fold();
    return this.sql(`SELECT id, owner_pid AS ownerPid, owner_start AS ownerStart FROM sessions WHERE state IN ('opening', 'open')`).all() as { id: string; ownerPid: number; ownerStart: string }[];
  }

  /** Sessions left open or half-open by a process that is gone. */
  orphans(): SessionRecord[] {
    return this.list(['opening', 'open', 'closing']).filter(ownerIsGone);
  }

  /**
   * Folds the pending files (pending.ts) into the database, in one
   * transaction with how far each was read: every method that reads or
   * changes sessions calls this first, so none sees less than what the
   * daemon's workers recorded. A file is removed once its whole records
   * are in, if its writer has moved on to a newer one, or if
   * `forget(group)` says its writer is gone (only the daemon knows that).
   * A partial record at the end of a file still being written waits for
   * the next fold; at the end of a removed file it is reported in `torn`.
   * Applying a record twice changes nothing (a row is inserted only if
   * missing; a close mark only moves a row from the state it names).
   */
  fold(forget?: (group: string) => boolean): FoldResult {
    const out: FoldResult = { records: 0, removed: [], torn: [] };
    const p = this.pending;
    if (!p) return out;
    let names: string[];
    try {
      names = readdirSync(p.dir);
    } catch {
      return out;
    }
    const files = names.flatMap((name) => {
      const n = parsePendingName(name, p.prefix);
      return n ? [{ name, ...n }] : [];
    });
    if (files.length === 0) return out;
    // Written by the registry's owner (the daemon's user), read by it or by root (`pamwasm recover`).
    const owners = [statSync(this.path).uid, process.geteuid?.() ?? -1];
    const newest = new Map<string, number>();
    for (const f of files) newest.set(f.group, Math.max(newest.get(f.group) ?? -1, f.seq));
    files.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : a.seq - b.seq));
    const done: string[] = [];
    const fold = () => {
      for (const f of files) {
        const offset = (this.sql('SELECT offset FROM pending_folded WHERE file = ?').get(f.name) as { offset: number } | undefined)?.offset ?? 0;
        let read;
        try {
          read = readPendingFile(join(p.dir, f.name), offset, owners);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;  // removed by another fold
          throw e;
        }
        const { records, used } = decodePending(read.bytes);
        for (const r of records) this.apply(r);
        out.records += records.length;
        if (used > 0) this.sql('INSERT INTO pending_folded (file, offset) VALUES (?, ?) ON CONFLICT (file) DO UPDATE SET offset = excluded.offset').run(f.name, offset + used);
        // Its writer has moved on or is gone: nothing more will come, and what
        // is left past the last whole record (if anything) never will be one.
        if (f.seq < newest.get(f.group)! || forget?.(f.group)) {
          done.push(f.name);
          if (offset + used < read.size) out.torn.push({ file: f.name, bytes: read.size - offset - used });
        }
      }
    };
    // Inside a caller's transaction the offsets are not committed yet (it may
    // roll back): the files stay for a later fold to remove.
    const nested = this.db.inTransaction;
    this.db.transaction(fold).immediate();
    if (nested) return out;
    for (const name of done) {
      try {
        unlinkSync(join(p.dir, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      this.sql('DELETE FROM pending_folded WHERE file = ?').run(name);
      out.removed.push(name);
    }
    return out;
  }

  private apply(r: PendingRecord): void {
    if (r.k === 'closed') this.markClosed(r.id, r.code, r.by, r.from, r.at);
    else this.insert('INSERT OR IGNORE', { ...r, systemService: null, systemConfdir: null });
  }

  /** Runs `fn` in one transaction: the daemon's group commit (one commit for every write of an event-loop turn). */
  batch(fn: () => void): void {
    // IMMEDIATE: the write lock first. A transaction that read first (a
    // fold's offsets) and then writes would get SQLITE_BUSY at once, with no
    // wait, whenever another connection committed in between.
    this.db.transaction(fn).immediate();
  }

  /** A statement prepared once per registry: preparing costs more than running most of them. */
  private sql(text: string): BetterSqlite3.Statement {
    let st = this.statements.get(text);
    if (!st) this.statements.set(text, (st = this.db.prepare(text)));
    return st;
  }

  close(): void {
    this.db.close();
  }
}
