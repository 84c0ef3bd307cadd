/**
 * pam_setenv: puts `NAME=value` arguments into the PAM environment on
 * open-session, with pam_echo's `%` substitutions in the value. The JS
 * reference module; see README.md for its arguments and return codes.
 */
import { putEnv, substitute, syslog, STATUS, type SessionFlags, type Status } from '../sdk/js/index.js';

export function openSession(_flags: SessionFlags, argv: string[]): Status {
  let result: Status = STATUS.SUCCESS;
  for (const arg of argv) {
    const eq = arg.indexOf('=');
    if (eq < 0) {
      // As Linux-PAM modules treat an unknown option: log it, carry on.
      syslog('err', `bad argument "${arg}": expected NAME=value; skipped`);
      continue;
    }
    const name = arg.slice(0, eq);
    // The name is passed through untouched: put-env judges it (perm-denied).
    const status = putEnv(`${name}=${substitute(arg.slice(eq + 1))}`);
    if (status !== STATUS.SUCCESS) {
      syslog('err', `cannot set ${name}: put-env returned ${status}`);
      // Keep going so one bad variable does not hide the rest; report the first failure.
      if (result === STATUS.SUCCESS) result = status;
    }
  }
  return result;
}

/** The PAM environment belongs to the handle, so there is nothing to undo. */
export function closeSession(_flags: SessionFlags, _argv: string[]): Status {
  return STATUS.SUCCESS;
}
