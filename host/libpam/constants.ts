/**
 * The libpam application API's non-code constants, from Linux-PAM's
 * `<security/_pam_types.h>`: item types and call flags, with the named
 * options that stand for them in this API.
 *
 * Return codes and conversation message styles are not here: they live in
 * `host/codes`, which every layer shares.
 */
import { PAM_SILENT } from '../codes/index.js';
import { UsageError } from '../errors/index.js';

/**
 * The string items an application may set and read (pam_set_item(3)),
 * named as in the WIT `item` enum. PAM_CONV stays internal to the bridge;
 * PAM_FAIL_DELAY (a function) and PAM_XAUTHDATA (a struct) are not strings.
 * libpam lets only modules set or read PAM_AUTHTOK and PAM_OLDAUTHTOK: for
 * an application, pam_set_item / pam_get_item of them give PAM_BAD_ITEM
 * (pam_item.c). They are listed so that this answer comes from libpam.
 */
export const PAM_ITEMS = {
  service: 1, // PAM_SERVICE
  user: 2, // PAM_USER
  tty: 3, // PAM_TTY
  rhost: 4, // PAM_RHOST
  authtok: 6, // PAM_AUTHTOK
  oldauthtok: 7, // PAM_OLDAUTHTOK
  ruser: 8, // PAM_RUSER
  'user-prompt': 9, // PAM_USER_PROMPT
  xdisplay: 11, // PAM_XDISPLAY
  'authtok-type': 13, // PAM_AUTHTOK_TYPE
} as const;

export type PamItemName = keyof typeof PAM_ITEMS;

/** The item number for a name; a UsageError names the known items otherwise. */
export function itemNumber(name: string): number {
  const n = (PAM_ITEMS as Record<string, number>)[name];
  if (n === undefined) {
    throw new UsageError(`unknown PAM item "${name}": use one of ${Object.keys(PAM_ITEMS).join(', ')}`);
  }
  return n;
}

// Call flags (_pam_types.h). PAM_PRELIM_CHECK / PAM_UPDATE_AUTHTOK are for
// modules only: libpam's pam_chauthtok rejects them from an application.
const PAM_DISALLOW_NULL_AUTHTOK = 0x0001;
const PAM_ESTABLISH_CRED = 0x0002;
const PAM_DELETE_CRED = 0x0004;
const PAM_REINITIALIZE_CRED = 0x0008;
const PAM_REFRESH_CRED = 0x0010;
const PAM_CHANGE_EXPIRED_AUTHTOK = 0x0020;
/** OR-ed into pam_end's status: module cleanups should not emit messages. */
export const PAM_DATA_SILENT = 0x40000000;

/** The limit misc_conv(3) and pam_conv(3) put on messages in one call. */
export const PAM_MAX_NUM_MSG = 32;

export { MESSAGE_STYLES, isPrompt, type MessageStyle } from '../codes/index.js';

/** Options every call takes: PAM_SILENT asks modules not to emit messages. */
export interface SilentOption { silent?: boolean }

/** pam_authenticate(3) and pam_acct_mgmt(3) flags. */
export interface AuthFlags extends SilentOption {
  /** PAM_DISALLOW_NULL_AUTHTOK: fail when the user's token is empty. */
  disallowNullAuthtok?: boolean;
}

/** The pam_setcred(3) actions; libpam takes exactly one. */
export type CredAction = 'establish' | 'delete' | 'reinitialize' | 'refresh';

/** pam_setcred(3) flags. libpam uses `establish` when none is given. */
export interface SetcredFlags extends SilentOption { action?: CredAction }

/** pam_chauthtok(3) flags. */
export interface ChauthtokFlags extends SilentOption {
  /** PAM_CHANGE_EXPIRED_AUTHTOK: change only tokens that have expired. */
  changeExpiredAuthtok?: boolean;
}

const CRED_ACTIONS: Record<CredAction, number> = {
  establish: PAM_ESTABLISH_CRED,
  delete: PAM_DELETE_CRED,
  reinitialize: PAM_REINITIALIZE_CRED,
  refresh: PAM_REFRESH_CRED,
};

const silent = (o: SilentOption | undefined): number => (o?.silent ? PAM_SILENT : 0);

export function authFlags(o?: AuthFlags): number {
  return silent(o) | (o?.disallowNullAuthtok ? PAM_DISALLOW_NULL_AUTHTOK : 0);
}

export function setcredFlags(o?: SetcredFlags): number {
  const action = o?.action ?? 'establish';
  const bit = CRED_ACTIONS[action];
  if (bit === undefined) {
    throw new UsageError(`unknown setcred action "${action}": use one of ${Object.keys(CRED_ACTIONS).join(', ')}`);
  }
  return silent(o) | bit;
}

export function chauthtokFlags(o?: ChauthtokFlags): number {
  return silent(o) | (o?.changeExpiredAuthtok ? PAM_CHANGE_EXPIRED_AUTHTOK : 0);
}

export const sessionFlags = silent;
