/**
 * Control actions, encoded as libpam encodes them (`pam_private.h`):
 * zero or negative numbers name an action, positive numbers are jumps.
 */
import { PAM, PAM_CODES, PAM_RETURN_VALUES } from '../codes/index.js';

export const ACTION = { IGNORE: 0, OK: -1, DONE: -2, BAD: -3, DIE: -4, RESET: -5, UNDEF: -6 } as const;

/** Action words in the order of libpam's `_pam_token_actions` (index = -action). */
export const ACTION_WORDS = ['ignore', 'ok', 'done', 'bad', 'die', 'reset'] as const;

/** Return-value words for bracket controls: the codes' tokens, then `default`. */
export const RETURN_WORDS = [...PAM_CODES.map((c) => c.token), 'default'];

export type Actions = number[];

export function actionName(action: number): string {
  return action > 0 ? `jump ${action}` : (ACTION_WORDS[-action] ?? 'undef');
}

/** Replaces every UNDEF entry with `action` (libpam's _pam_set_default_control). */
export function setDefault(actions: Actions, action: number): void {
  for (let i = 0; i < PAM_RETURN_VALUES; i++) if (actions[i] === ACTION.UNDEF) actions[i] = action;
}

export const undefActions = (): Actions => new Array(PAM_RETURN_VALUES).fill(ACTION.UNDEF);

/** The four keyword controls, as pam.conf(5) defines them. */
export function keywordActions(keyword: string): Actions | undefined {
  const a = undefActions();
  const SUCCESS = PAM.SUCCESS.number;
  const NEW_AUTHTOK_REQD = PAM.NEW_AUTHTOK_REQD.number;
  const IGNORE = PAM.IGNORE.number;
  // strcasecmp: ASCII letters only (toLowerCase would also fold other scripts' letters).
  switch (keyword.replace(/[A-Z]/g, (c) => c.toLowerCase())) {
    case 'required':
      a[SUCCESS] = a[NEW_AUTHTOK_REQD] = ACTION.OK;
      a[IGNORE] = ACTION.IGNORE;
      setDefault(a, ACTION.BAD);
      return a;
    case 'requisite':
      a[SUCCESS] = a[NEW_AUTHTOK_REQD] = ACTION.OK;
      a[IGNORE] = ACTION.IGNORE;
      setDefault(a, ACTION.DIE);
      return a;
    case 'optional':
      a[SUCCESS] = a[NEW_AUTHTOK_REQD] = ACTION.OK;
      setDefault(a, ACTION.IGNORE);
      return a;
    case 'sufficient':
      a[SUCCESS] = a[NEW_AUTHTOK_REQD] = ACTION.DONE;
      setDefault(a, ACTION.IGNORE);
      return a;
    default:
      return undefined;
  }
}

const isSpace = (c: string | undefined) => c !== undefined && ' \t\n\v\f\r'.includes(c);
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/**
 * Parses the inside of a bracket control (`success=ok default=bad`) the way
 * libpam's _pam_parse_control does: words are matched by prefix in table
 * order, and any error turns the whole line into `bad` for every code.
 * Returns the error text, or undefined; then applies the `bad` default.
 */
export function parseBracket(text: string, actions: Actions): string | undefined {
  let i = 0;
  const fail = (why: string) => {
    actions.fill(ACTION.BAD);
    return `${why} at "${text.slice(i)}"`;
  };
  let error: string | undefined;
  outer: while (i < text.length) {
    while (isSpace(text[i])) i++;
    if (i >= text.length) break;
    const ret = RETURN_WORDS.findIndex((w) => text.startsWith(w, i));
    if (ret < 0 || i + RETURN_WORDS[ret].length >= text.length) {
      error = fail('expecting a return value (e.g. success, session_err, default)');
      break;
    }
    i += RETURN_WORDS[ret].length;
    while (isSpace(text[i])) i++;
    if (text[i] !== '=') {
      error = fail("expecting '='");
      break;
    }
    i++;
    while (isSpace(text[i])) i++;
    if (i >= text.length) {
      error = fail('expecting an action (ignore, ok, done, bad, die, reset or a jump count)');
      break;
    }
    let act = ACTION_WORDS.findIndex((w) => text.startsWith(w, i));
    if (act >= 0) {
      i += ACTION_WORDS[act].length;
      act = -act || 0; // never -0: `ignore` is action 0
    } else {
      if (!isDigit(text[i])) {
        error = fail('expecting an action or a jump count');
        break outer;
      }
      // libpam adds the digits up in a C int, which wraps: 4294967295 is -1,
      // the action `ok`, and 4294967297 a jump of 1.
      act = 0;
      while (isDigit(text[i])) act = (Math.imul(act, 10) + Number(text[i++])) | 0;
      if (act === 0) {
        error = fail('expecting a non-zero jump (use ignore to skip nothing)');
        break;
      }
    }
    if (ret === RETURN_WORDS.length - 1) setDefault(actions, act);
    else actions[ret] = act;
  }
  setDefault(actions, ACTION.BAD);
  return error;
}
