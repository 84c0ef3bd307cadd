/**
 * The start time in /proc/PID/stat's text: field 22, in clock ticks since
 * boot, which with the pid names a process even after the pid is reused.
 * Counted after the command name, which is in parentheses and may hold
 * spaces. The registry reads the file with Node's fs; the daemon, at every
 * open, with three system calls (daemon/libc.ts).
 */
export function startTimeOf(stat: string): string | undefined {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ', 20)[19];
}
