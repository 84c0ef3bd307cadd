/**
 * The stack dispatcher: libpam's algorithm (libpam/pam_dispatch.c,
 * _pam_dispatch and _pam_dispatch_aux) over a list of session handlers, in
 * one place. Everything that decides a session's outcome is here:
 *  - impression and status, and "success without a positive impression is
 *    PAM_PERM_DENIED" (libpam's sanity check);
 *  - the frozen chain: close-session picks each line's action from the code
 *    that line returned at open-session (its own code when open never ran it);
 *  - jumps, which skip whole substacks (on a frozen chain too, with no
 *    other effect, as in Linux-PAM 1.5.2); done and die, which end the current
 *    substack level; reset, which restores the state saved on entering it;
 *  - PAM_INCOMPLETE, which saves the walk so that the next call of the same
 *    hook resumes at that line, and makes a call of the other hook abort.
 */
import { isPamCode, PAM } from '../codes/index.js';
import { ACTION, type Actions } from './actions.js';

export type Hook = 'open' | 'close';

/** What the dispatcher needs of one handler. */
export interface DispatchLine {
  kind: 'module' | 'must-fail' | 'substack' | 'faulty';
  level: number;
  actions: Actions;
}

/** libpam's PAM_MUST_FAIL_CODE. */
export const MUST_FAIL = PAM.PERM_DENIED.number;
const INVALID_RETVAL = -1;
const UNDEF = 0;
const POSITIVE = 1;
const NEGATIVE = -1;

/** Per-session dispatcher state, kept from open to close (libpam keeps it in the handle). */
export interface DispatchState {
  /** Code each line returned at the last open-session: the frozen chain. */
  cached: number[];
  /** Walk saved by PAM_INCOMPLETE. */
  former?: { hook: Hook; depth: number; impression: number; status: number; substates: { impression: number; status: number }[] };
}

export const newDispatchState = (lines: number): DispatchState => ({ cached: new Array(lines).fill(INVALID_RETVAL) });

/** One step of a walk, for traces. */
export interface Step {
  index: number;
  /** What the line returned (after libpam's range check). */
  code: number;
  /** The code whose action was taken (the open code on a frozen chain). */
  actionCode: number;
  action: number;
  impression: number;
  status: number;
}

export type CallLine = (index: number) => number | Promise<number>;

/**
 * Runs `hook` over `lines`. `call(i)` runs line i's module hook and returns
 * its code; it is only called for `kind: 'module'` lines. Returns the
 * stack's code, as pam_open_session / pam_close_session would.
 */
export async function dispatch(
  lines: readonly DispatchLine[],
  state: DispatchState,
  hook: Hook,
  call: CallLine,
  onStep?: (step: Step) => void,
): Promise<number> {
  let resumed = false;
  if (state.former) {
    // pam_dispatch.c: another hook than the one left incomplete aborts and
    // leaves the saved walk in place.
    if (state.former.hook !== hook) return PAM.ABORT.number;
    resumed = true;
  }
  const frozen = hook === 'close';
  if (lines.length === 0) return MUST_FAIL;

  let impression: number;
  let status: number;
  let skipDepth = 0;
  let substates: { impression: number; status: number }[];
  if (resumed) {
    const f = state.former!;
    ({ impression, status, substates } = f);
    skipDepth = f.depth;
  } else {
    impression = UNDEF;
    status = MUST_FAIL;
    substates = [{ impression, status }];
  }
  state.former = undefined;

  let prevLevel = 0;
  for (let depth = 0; depth < lines.length; depth++) {
    const h = lines[depth];
    const level = h.level;
    if (depth < skipDepth) {
      prevLevel = level;
      continue;
    }
    if (prevLevel < level) substates[level] = { impression, status };
    prevLevel = level;

    let retval: number;
    if (h.kind === 'must-fail') retval = MUST_FAIL;
    else if (h.kind === 'substack') continue;
    else if (h.kind === 'faulty') retval = PAM.MODULE_UNKNOWN.number;
    else {
      // A module's hook answers synchronously: no wait for a value already there.
      const called = call(depth);
      retval = typeof called === 'number' ? called : await called;
    }

    if (retval === PAM.INCOMPLETE.number) {
      state.former = { hook, depth, impression, status, substates };
      return retval;
    }

    let cachedRetval: number;
    if (frozen) {
      cachedRetval = state.cached[depth];
      // Closing without a recorded open: libpam falls back to this call's code.
      if (cachedRetval === INVALID_RETVAL) cachedRetval = retval;
    } else {
      cachedRetval = state.cached[depth] = retval;
    }

    let action: number;
    if (!isPamCode(cachedRetval)) {
      retval = MUST_FAIL;
      action = ACTION.BAD;
    } else {
      action = h.actions[cachedRetval];
    }
    const index = depth;
    const report = () =>
      onStep?.({ index, code: retval, actionCode: cachedRetval, action, impression, status });

    let decided = false;
    switch (action) {
      case ACTION.RESET:
        ({ impression, status } = substates[level]);
        break;
      case ACTION.OK:
      case ACTION.DONE:
        if (impression === UNDEF || (impression === POSITIVE && status === PAM.SUCCESS.number)) {
          // On a frozen chain a line may now say IGNORE: it must not become the status.
          if (retval !== PAM.IGNORE.number || cachedRetval === retval) {
            impression = POSITIVE;
            status = retval;
          }
        }
        if (impression === POSITIVE && action === ACTION.DONE) decided = true;
        break;
      case ACTION.BAD:
      case ACTION.DIE:
        if (impression !== NEGATIVE) {
          impression = NEGATIVE;
          status = retval === PAM.IGNORE.number ? MUST_FAIL : retval;
        }
        if (action === ACTION.DIE) decided = true;
        break;
      case ACTION.IGNORE:
        break;
      default: {
        let jump = action;
        if (jump > 0) {
          // Linux-PAM 1.5.2 (the system libpam, which the differential tests
          // hold us to) only jumps here, also on a frozen chain; later
          // releases also count the jumping line as required when closing.
          // Skip `jump` lines of this level, each with any substack below it.
          while (depth + 1 < lines.length && lines[depth + 1].level >= level && jump > 0) {
            do depth++;
            while (depth + 1 < lines.length && lines[depth + 1].level > level);
            jump--;
          }
        }
        if (jump) {
          // A jump past the end of its level is a config error that cannot succeed.
          impression = NEGATIVE;
          status = MUST_FAIL;
        }
        report();
        continue;
      }
    }
    report();
    if (decided) {
      // libpam remembers the deciding line's level, not the last one skipped.
      while (depth + 1 < lines.length && lines[depth + 1].level >= level) depth++;
    }
  }

  if (status === PAM.SUCCESS.number && impression !== POSITIVE) status = MUST_FAIL;
  return status;
}
