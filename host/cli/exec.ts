/**
 * `pamwasm exec`: the bridge for pam_exec(8), so that any libpam application
 * (sshd, login, su) runs a WASM stack inside its own PAM session:
 *
 *   session required pam_exec.so stdout /usr/bin/node /opt/pamwasm/bin/pamwasm.js exec --stack /etc/pamwasm/sshd.stack
 *
 * pam_exec forks a child for open_session and another for close_session.
 * The open child runs the stack's open and records the session, with its
 * module data and frozen chain, in the registry; the close child finds it,
 * claims it (exactly once) and runs the close on fresh instances that get
 * the data back. One process per hook is what every login pays, so this
 * file and what it imports are bundled into dist/pamwasm-exec.mjs (no CLI
 * table, no libpam bridge), and prepared components come from a disk cache.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PAM } from '../codes/index.js';
import { PamwasmError, UsageError } from '../errors/index.js';
import { defaultCacheDir, type CacheOptions } from '../loader/index.js';
import { formatLogRecord, newHandleState, WIT_PRIORITIES, type ConvMessage, type LogRecord, type WitItem } from '../runtime/index.js';
import { defaultRegistryPath, processIdentity, Registry, type ProcessOwner, type SessionLine } from '../sessions/registry.js';
import { closeWasmStack, recordItems } from '../sessions/wasm-close.js';
import { parseStackFile, StackSession } from '../stack/index.js';
import { errorSentence, usage } from './usage.js';
import { createEngine } from '../engine/index.js';

export const EXEC_HELP = `Usage: pamwasm exec --stack FILE [options]

Runs a WASM stack for pam_exec(8), inside a libpam application's session:

  session required pam_exec.so stdout /usr/bin/node /path/to/pamwasm.js exec --stack /etc/pamwasm/login.stack

PAM_TYPE open_session runs the stack's open and records the session in the
registry; close_session finds that session (same service, user, tty, rhost,
ruser and stack, preferring the one the same application process opened),
and closes it with the module data saved at open. A close with no recorded
open runs on fresh instances, and says so on stderr.

The environment is pam_exec's: PAM_TYPE, PAM_SERVICE, PAM_USER, PAM_TTY,
PAM_RHOST and PAM_RUSER are the hook and the items; every other variable is
the PAM environment (pam_exec passes pam_getenvlist and nothing else). A run
by hand: env -i PAM_TYPE=open_session PAM_SERVICE=login PAM_USER=alice pamwasm exec --stack FILE

Info and error messages go to stdout, one line each (pam_exec's stdout
option shows them to the user); the modules' syslog lines go to syslog
through logger(1).

Options:
  --stack FILE        the stack file (required; a relative path is taken from the working directory)
  --registry PATH     the registry (default: /var/lib/pamwasm/registry.db as root,
                      else $XDG_STATE_HOME/pamwasm/registry.db)
  --module-dir DIR    where relative module paths are found (default: the bundled modules)
  --cache-dir DIR     the cache of prepared components (default: /var/cache/pamwasm as root,
                      else $XDG_CACHE_HOME/pamwasm); it must be a folder of this user, mode 700
  --no-cache          prepare every component afresh (about 300 ms each)
  --diagnostics D     where exec's own warnings and errors go: stdout (default: on
                      stderr, which pam_exec's stdout option shows to the user) or
                      syslog (logger(1), authpriv, tag pamwasm-exec)

Exit status (pam_exec turns any non-zero status into PAM_SYSTEM_ERR):
  0       the stack returned PAM_SUCCESS
  1-31    the stack returned that PAM code (e.g. 14 PAM_SESSION_ERR)
  64      usage: bad options, or an environment pam_exec does not make
          (no PAM_TYPE, a PAM_TYPE other than open_session or close_session,
          no PAM_SERVICE or PAM_USER, an item name given twice)
  70      a host failure (e.g. the registry cannot be opened)
  78      a configuration error (stack file missing, or unsafe as root)`;

/** The exit statuses that are not PAM codes (BSD sysexits.h). */
export const EXEC_EXIT = { USAGE: 64, SOFTWARE: 70, CONFIG: 78 } as const;

/** pam_exec's variables for the PAM items it appends after the PAM environment (modules/pam_exec/pam_exec.c, env_items). */
// Maps, not object literals: a name from the environment (PAM_TYPE=constructor,
// a variable named __proto__) must never find what Object.prototype holds.
const ITEM_VARS = new Map<string, WitItem>([
  ['PAM_SERVICE', 'service'], ['PAM_USER', 'user'], ['PAM_TTY', 'tty'], ['PAM_RHOST', 'rhost'], ['PAM_RUSER', 'ruser'],
]);
const HOOKS = new Map<string, 'open' | 'close'>([['open_session', 'open'], ['close_session', 'close']]);

export interface PamExecEnvironment {
  /** PAM_TYPE as given (open_session, close_session, auth, ...). */
  type?: string;
  items: Partial<Record<WitItem, string>>;
  /** The PAM environment: every variable but PAM_TYPE and the items (an object without prototype: any name is its own key). */
  env: Record<string, string>;
}

/**
 * Splits the environment pam_exec made: pam_getenvlist's entries, then the
 * set items, then PAM_TYPE (execve's envp, in that order). A PAM
 * environment variable named like an item or PAM_TYPE would come first and
 * win a getenv(), passing for the item (a user's ~/.pam_environment could
 * claim PAM_USER=root), so a name given twice is refused.
 */
export function splitPamExecEnvironment(entries: readonly string[]): PamExecEnvironment {
  const out: PamExecEnvironment = { items: {}, env: Object.create(null) as Record<string, string> };
  const seen = new Set<string>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    const item = ITEM_VARS.get(name);
    const reserved = name === 'PAM_TYPE' || item !== undefined;
    if (reserved && seen.has(name)) {
      throw new UsageError(`${name} is in the environment twice: a PAM environment variable of that name would pass for pam_exec's own; remove it from the PAM environment (pam_env.conf, modules' putenv).`);
    }
    seen.add(name);
    if (name === 'PAM_TYPE') out.type = value;
    else if (item !== undefined) out.items[item] = value;
    else out.env[name] = value;
  }
  return out;
}

/** This process's environment as execve gave it, duplicates included (process.env keeps one of each). */
function rawEnvironment(): string[] {
  try {
    return readFileSync('/proc/self/environ', 'latin1').split('\0').filter(Boolean).map((e) => Buffer.from(e, 'latin1').toString('utf8'));
  } catch {
    return Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  }
}

/** The process that ran pam_exec: the libpam application holding the PAM handle. */
function parentOwner(): ProcessOwner {
  return { pid: process.ppid, start: processIdentity(process.ppid) ?? 'unknown' };
}

const LOG_PRIORITIES = new Set<string>(WIT_PRIORITIES);

/** One line to syslog through logger(1) at authpriv, tagged `tag`; never throws, never waits. */
function logger(tag: string, priority: string, text: string): void {
  const args = ['-t', tag, '-p', `authpriv.${LOG_PRIORITIES.has(priority) ? priority : 'notice'}`, '--', text];
  // Loaded only when something is logged: most runs never pay for node:child_process.
  void import('node:child_process').then(({ spawn }) => {
    const child = spawn('/usr/bin/logger', args, { stdio: 'ignore', detached: true, env: {} });
    child.on('error', () => { /* no logger: nowhere to log */ });
    child.unref();
  }).catch(() => {});
}

/**
 * Module syslog lines to syslog, as pam_syslog would write them from a
 * native module: logger(1) at authpriv, tagged with the service, each line
 * with its module, stack line, user and session id. The exec process has
 * no other place for them: its stderr is the user's screen under
 * pam_exec's stdout option.
 */
function toSyslog(service: string, hook: string) {
  return (r: LogRecord) => logger(`pamwasm(${service}:session)`, r.priority, `${hook}: ${formatLogRecord(r)}`);
}

/** Where exec's own diagnostics go (--diagnostics): the user's screen under pam_exec's stdout option, or syslog. */
type Diagnostics = 'stdout' | 'syslog';

/**
 * --diagnostics, read before the rest of the options, so that even an
 * error in them goes where it was asked to; undefined when not given.
 */
function diagnosticsOf(argv: readonly string[]): string | undefined {
  const i = argv.findIndex((a) => a === '--diagnostics' || a.startsWith('--diagnostics='));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].slice(argv[i].indexOf('=') + 1) : argv[i + 1];
}

/** exec's warnings and errors, as --diagnostics says. */
function warner(diagnostics: Diagnostics): (text: string) => void {
  return diagnostics === 'syslog'
    ? (text) => logger('pamwasm-exec', 'err', text)
    : (text) => process.stderr.write(`pamwasm exec: ${text}\n`);
}

const say = (m: ConvMessage) => process.stdout.write(`${m.text}\n`);

/**
 * `pamwasm exec`, whole: returns the exit status (see EXEC_HELP), never
 * throws. `environ` is the environment as `NAME=value` entries; by default
 * this process's, which is then emptied: under pam_exec it is the PAM
 * environment, data for the modules and never configuration for the host
 * (jco's glue reads JCO_DEBUG; os.homedir() reads HOME).
 */
export async function execMain(argv: string[], environ?: readonly string[]): Promise<number> {
  if (!environ) {
    environ = rawEnvironment();
    for (const name of Object.keys(process.env)) delete process.env[name];
  }
  const asked = diagnosticsOf(argv);
  const warn = warner(asked === 'syslog' ? 'syslog' : 'stdout');
  try {
    if (asked !== undefined && asked !== 'stdout' && asked !== 'syslog') {
      throw usage(`--diagnostics must be syslog or stdout, not "${asked}"`, 'exec');
    }
    return await execCommand(argv, environ, warn);
  } catch (e) {
    warn(errorSentence(e as Error, EXEC_HELP));
    if (e instanceof UsageError || (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) return EXEC_EXIT.USAGE;
    if (e instanceof PamwasmError && ['ERR_PAMWASM_STACK_NOT_FOUND', 'ERR_PAMWASM_UNSAFE_PERMISSIONS', 'ERR_PAMWASM_STACK_SYNTAX'].includes(e.code)) return EXEC_EXIT.CONFIG;
    return EXEC_EXIT.SOFTWARE;
  }
}

const EXEC_OPTIONS = {
  stack: { type: 'string' }, registry: { type: 'string' }, 'module-dir': { type: 'string' },
  'cache-dir': { type: 'string' }, 'no-cache': { type: 'boolean' }, diagnostics: { type: 'string' }, help: { type: 'boolean' },
} as const;

type ExecOptionValues = { stack?: string; registry?: string; 'module-dir'?: string; 'cache-dir'?: string; 'no-cache'?: boolean; diagnostics?: string; help?: boolean };

/**
 * exec's options, as util.parseArgs (strict, no positionals) reads them:
 * `--name value`, `--name=value` and booleans are read here; anything else
 * (an unknown option, a short one, a positional, `--`, a value that looks
 * like an option) goes to util.parseArgs itself, which gives its own result
 * or error. Loading parseArgs costs about 2 ms at every login.
 */
export function parseExecArgs(argv: readonly string[]): ExecOptionValues {
  const values: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') ? arg.slice(2, eq < 0 ? undefined : eq) : '';
    const type = Object.hasOwn(EXEC_OPTIONS, name) ? EXEC_OPTIONS[name as keyof typeof EXEC_OPTIONS].type : undefined;
    if (type === 'boolean' && eq < 0) values[name] = true;
    else if (type === 'string' && eq >= 0) values[name] = arg.slice(eq + 1);
    else if (type === 'string' && i + 1 < argv.length && !argv[i + 1].startsWith('-')) values[name] = argv[++i];
    else return parseArgs({ args: [...argv], options: EXEC_OPTIONS, strict: true }).values;
  }
  return values;
}

async function execCommand(argv: string[], environ: readonly string[], warn: (text: string) => void): Promise<number> {
  const values = parseExecArgs(argv);
  if (values.help) {
    console.log(EXEC_HELP);
    return 0;
  }
  if (!values.stack) throw usage('exec needs --stack FILE', 'exec');
  const pe = splitPamExecEnvironment(environ);
  if (pe.type === undefined) {
    throw usage('PAM_TYPE is not set: exec is run by pam_exec.so from a session line (or by hand with PAM_TYPE=open_session or close_session)', 'exec');
  }
  const hook = HOOKS.get(pe.type);
  if (!hook) {
    throw new UsageError(`PAM_TYPE is ${pe.type}, but exec runs session stacks only (open_session, close_session): put it on a session line, or add type=open_session / type=close_session to pam_exec's options.`);
  }
  for (const item of ['service', 'user'] as const) {
    if (!pe.items[item]) throw new UsageError(`PAM_${item.toUpperCase()} is not set; pam_exec sets it from the PAM handle, so set it when running exec by hand.`);
  }
  const cache: CacheOptions | undefined = values['no-cache'] ? undefined : { dir: values['cache-dir'] ?? defaultCacheDir(), onWarning: warn };
  const ctx: ExecContext = {
    stack: resolve(values.stack),
    moduleDir: values['module-dir'] ? resolve(values['module-dir']) : undefined,
    cache,
    pe,
    log: toSyslog(pe.items.service!, pe.type),
    warn,
  };
  let registry: Registry;
  const registryPath = values.registry ?? defaultRegistryPath();
  try {
    registry = new Registry(registryPath);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new Error(`the registry ${registryPath} cannot be opened (${(e as Error).message}); check --registry and its folder's permissions.`, { cause: e });
  }
  try {
    return hook === 'open' ? await open(registry, ctx) : await close(registry, ctx);
  } finally {
    registry.close();
  }
}

interface ExecContext {
  stack: string;
  moduleDir?: string;
  cache?: CacheOptions;
  pe: PamExecEnvironment;
  log: (r: LogRecord) => void;
  /** exec's own warnings (--diagnostics). */
  warn: (text: string) => void;
}

const lineOf = (items: PamExecEnvironment['items']): SessionLine => ({
  service: items.service!, user: items.user!, tty: items.tty ?? null, rhost: items.rhost ?? null, ruser: items.ruser ?? null,
});

async function open(registry: Registry, ctx: ExecContext): Promise<number> {
  const engine = createEngine();
  const stack = parseStackFile(ctx.stack, { engine });
  const id = randomUUID();
  registry.begin({
    id, ...lineOf(ctx.pe.items), stack: ctx.stack, stackSha256: stack.sha256,
    moduleDir: ctx.moduleDir ?? null, systemService: null, systemConfdir: null,
  }, parentOwner());
  try {
    const handle = newHandleState(ctx.pe.items, ctx.pe.env);
    const session = await StackSession.create(stack, handle, {
      moduleDir: ctx.moduleDir, cache: ctx.cache, log: ctx.log, sessionId: id, engine,
      conversation: { info: (text) => say({ style: 'info', text }), error: (text) => say({ style: 'error', text }) },
    });
    for (const d of [...stack.diagnostics, ...session.diagnostics]) ctx.warn(`${d.file}:${d.line}: ${d.message}`);
    const r = await session.open();
    // The application does not close a session whose open failed (libpam's
    // callers do not), so a failed open is recorded as never opened.
    registry.opened(id, r.code === PAM.SUCCESS.number, r.code, Object.fromEntries(handle.env), session.snapshot());
    session.end();
    return r.code;
  } catch (e) {
    registry.failed(id, PAM.SYSTEM_ERR.number);
    throw e;
  }
}

async function close(registry: Registry, ctx: ExecContext): Promise<number> {
  const line = lineOf(ctx.pe.items);
  const { service, user, tty } = line;
  const owner = parentOwner();
  let rec = registry.findOpen(line, { stack: ctx.stack, owner });
  // Another close process may claim the same row first: then look again.
  while (rec && !registry.claim(rec, ['open'])) rec = registry.findOpen(line, { stack: ctx.stack, owner });
  const engine = createEngine();
  const options = { cache: ctx.cache, log: ctx.log, onMessage: say, engine };
  if (!rec) {
    const stack = parseStackFile(ctx.stack, { engine }); // a missing or unsafe stack file is a configuration error here too
    ctx.warn(`no open session of ${user} on ${tty ?? '(no tty)'} (service ${service}, stack ${ctx.stack}) in the registry ${registry.path}: closing on fresh instances, without module data.`);
    const w = await closeWasmStack({ stack: ctx.stack, parsed: stack, moduleDir: ctx.moduleDir, snapshot: null, items: ctx.pe.items, env: ctx.pe.env }, options);
    if (w.problem) ctx.warn(w.problem);
    return w.wasm.code;
  }
  // The modules see the handle's items and environment as libpam has them
  // now, plus what the stack put at open, which never reached libpam (a
  // pam_exec child cannot change its caller's PAM environment).
  const w = await closeWasmStack({
    id: rec.id, stack: rec.stack, stackSha256: rec.stackSha256, moduleDir: rec.moduleDir, snapshot: rec.snapshot,
    items: { ...recordItems(rec), ...ctx.pe.items }, env: { ...rec.env, ...ctx.pe.env },
  }, options);
  if (w.problem) ctx.warn(w.problem);
  registry.closed(rec.id, w.wasm.code, 'exec');
  return w.wasm.code;
}

