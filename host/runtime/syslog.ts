/**
 * Where module syslog lines go: the system log by default (pam_syslog(3)
 * writes to syslog(3) with LOG_AUTHPRIV), or stderr, nowhere, or a function.
 * Each line carries the session id, service, user and stack line, so a
 * close-time audit line written during `pamwasm recover` can be told apart.
 *
 * The system log is reached through libc's openlog(3)/syslog(3) (koffi,
 * declared below as the C prototypes of <syslog.h>). glibc's syslog sends a
 * datagram to /dev/log and, with no daemon listening, drops the line
 * without error (no LOG_CONS: nothing is written to the console); it never
 * throws into the session. Without libc (another platform) lines go to stderr.
 *
 * @example
 *   createHost({ log: 'stderr' });                 // while developing
 *   createHost({ log: (r) => records.push(r) });   // tests
 */
import { UsageError } from '../errors/index.js';
import type { LogRecord, WitPriority } from './types.js';

/** A `log` option: a sink function, or where lines go. */
export type LogOption = ((record: LogRecord) => void) | 'syslog' | 'stderr' | 'none';

export const LOG_OPTIONS: readonly string[] = ['syslog', 'stderr', 'none'];

/** <syslog.h> priorities. */
const PRIORITY: Record<WitPriority, number> = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 };
/** LOG_AUTHPRIV, the facility pam_syslog uses. */
const LOG_AUTHPRIV = 10 << 3;
/** LOG_PID | LOG_NDELAY: the pid in each line; the socket opened at openlog, not at the first line. */
const OPENLOG_FLAGS = 0x01 | 0x08;

/** One line of text: `module [file:line] service=S user=U session=ID: message`. */
export function formatLogRecord(r: LogRecord): string {
  const where = [
    r.line ? `[${r.line}]` : '',
    r.service !== undefined ? `service=${r.service}` : '',
    r.user !== undefined ? `user=${r.user}` : '',
    r.session ? `session=${r.session}` : '',
  ].filter(Boolean).join(' ');
  return `${r.module}${where ? ` ${where}` : ''}: ${r.message.trimEnd()}`;
}

interface Libc {
  syslog(priority: number, format: string, ...args: unknown[]): void;
}

/**
 * libc's logger, bound at the first line and once per process: openlog(3)
 * is process-wide state of libc itself, so this mirrors it rather than
 * owning it. Null where there is no libc.
 */
let libc: Promise<Libc | null> | undefined;

async function bindLibc(ident: string): Promise<Libc | null> {
  try {
    const { default: koffi } = await import('koffi');
    const lib = koffi.load('libc.so.6');
    const strdup = lib.func('void *strdup(const char *s)');
    const openlog = lib.func('void openlog(void *ident, int option, int facility)');
    const syslog = lib.func('void syslog(int priority, const char *format, ...)');
    // openlog keeps the ident pointer: koffi's copy of a JS string lives only
    // for the call, so the ident is libc memory that stays (never freed).
    openlog(strdup(ident), OPENLOG_FLAGS, LOG_AUTHPRIV);
    return { syslog };
  } catch {
    return null;
  }
}

/** A sink for the `log` option (default `syslog`); `ident` tags syslog lines. */
export function logSink(option: LogOption = 'syslog', ident = 'pamwasm'): (record: LogRecord) => void {
  if (typeof option === 'function') return option;
  switch (option) {
    case 'none':
      return () => {};
    case 'stderr':
      return (r) => process.stderr.write(`${r.priority}: ${formatLogRecord(r)}\n`);
    case 'syslog':
      return (r) => {
        libc ??= bindLibc(ident);
        void libc.then((c) => {
          // "%s": a module's text is never a format string.
          if (c) c.syslog(LOG_AUTHPRIV | (PRIORITY[r.priority] ?? PRIORITY.notice), '%s', 'str', formatLogRecord(r));
          else process.stderr.write(`${r.priority}: ${formatLogRecord(r)}\n`);
        });
      };
    default:
      throw new UsageError(`log ${JSON.stringify(option)} is not a sink: give a function, or one of ${LOG_OPTIONS.join(', ')}.`);
  }
}
