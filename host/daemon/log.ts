/**
 * The daemon's log lines, written by whichever thread has them (the main
 * thread and every stack worker): to syslog(3), or to stderr (the journal
 * under systemd, which reads a `<N>` prefix as the line's priority).
 */
import { fstatSync } from 'node:fs';
import { openSyslog, syslogLine, writeAllSync } from './libc.js';

/** The daemon's log: one line per session event. */
export interface DaemonLog {
  (priority: number, text: string): void;
  /** Writes the lines that wait (a worker's open line goes out before the open's RESULT). */
  flush?(): void;
}
export const LOG = { err: 3, warning: 4, notice: 5, info: 6 } as const;

/**
 * Lines to stderr: those of one event-loop turn leave together, in writes
 * of at most PIPE_BUF bytes cut at line ends, so the lines of several
 * threads sharing the pipe never interleave inside a line.
 */
export function stderrLog(journal: boolean): DaemonLog {
  let lines: string[] = [];
  // The journal's stream is a socket; a file or a pipe takes write(2) at once.
  let socket = true;
  try {
    socket = fstatSync(2).isSocket();
  } catch { /* tried as a socket first, then written */ }
  const flush = () => {
    if (lines.length === 0) return;
    const out = lines;
    lines = [];
    let chunk = '';
    for (const l of out) {
      if (chunk && Buffer.byteLength(chunk) + Buffer.byteLength(l) > 4096) { writeAllSync(2, Buffer.from(chunk), 5000, socket); chunk = ''; }
      chunk += l;
    }
    if (chunk) writeAllSync(2, Buffer.from(chunk), 5000, socket);
  };
  const log: DaemonLog = (priority, text) => {
    if (lines.length === 0) setImmediate(flush);
    lines.push(journal ? `<${priority}>${text}\n` : `pamwasm daemon: ${text}\n`);
  };
  log.flush = flush;
  return log;
}

export function syslogLog(): DaemonLog {
  openSyslog('pamwasm-daemon');
  return syslogLine;
}
