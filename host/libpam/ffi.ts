/**
 * Every koffi declaration of the bridge, written as the C prototypes of
 * `<security/pam_appl.h>` / `<security/_pam_types.h>` and `<stdlib.h>`, with
 * `_Out_` on output parameters.
 *
 * Only the helper process or thread (server.ts) imports this file: the host's
 * main thread never loads libpam (see index.ts for why).
 *
 * @example
 *   const pam = loadLibpam();
 *   pam.hasStartConfdir   // false on Linux-PAM < 1.4.0
 */
import koffi, { type LibraryHandle } from 'koffi';
import { LibpamUnavailableError } from '../errors/index.js';

/** The soname the Debian/Ubuntu/Fedora runtime packages install. */
export const DEFAULT_LIBPAM = 'libpam.so.0';
const LIBC = 'libc.so.6';

// Types: koffi keeps them in a process-wide (per-thread) registry, so they
// are declared once per thread, on first load.
let typesDeclared = false;
function declareTypes(): void {
  if (typesDeclared) return;
  koffi.opaque('pam_handle_t');
  koffi.struct('pam_message', { msg_style: 'int', msg: 'const char *' });
  // `resp` is declared as a pointer, never a JS string: libpam free()s it, so
  // it must come from libc's strdup (a koffi-encoded string would crash free()).
  koffi.struct('pam_response', { resp: 'void *', resp_retcode: 'int' });
  koffi.proto('int pam_conv_fn(int num_msg, const pam_message **msg, pam_response **resp, void *appdata_ptr)');
  koffi.struct('pam_conv', { conv: 'pam_conv_fn *', appdata_ptr: 'void *' });
  typesDeclared = true;
}

/** A pointer as koffi 3 gives it: a BigInt address, or null for NULL. */
export type Ptr = bigint | null;

/** The bound libpam application API and the libc allocator it needs. */
export interface Libpam {
  readonly path: string;
  /** False when libpam lacks pam_start_confdir (Linux-PAM < 1.4.0). */
  readonly hasStartConfdir: boolean;
  pam_start(service: string, user: string | null, conv: object, pamh: Ptr[]): number;
  pam_start_confdir: ((service: string, user: string | null, conv: object, confdir: string, pamh: Ptr[]) => number) | null;
  pam_end(pamh: bigint, status: number): number;
  pam_set_item(pamh: bigint, itemType: number, item: string | null): number;
  pam_get_item(pamh: bigint, itemType: number, item: Ptr[]): number;
  pam_strerror(pamh: Ptr, errnum: number): string | null;
  pam_authenticate(pamh: bigint, flags: number): number;
  pam_setcred(pamh: bigint, flags: number): number;
  pam_acct_mgmt(pamh: bigint, flags: number): number;
  pam_open_session(pamh: bigint, flags: number): number;
  pam_close_session(pamh: bigint, flags: number): number;
  pam_chauthtok(pamh: bigint, flags: number): number;
  pam_putenv(pamh: bigint, nameValue: string): number;
  pam_getenv(pamh: bigint, name: string): string | null;
  pam_getenvlist(pamh: bigint): Ptr;
  calloc(nmemb: number, size: number): Ptr;
  strdup(s: string): Ptr;
  free(p: Ptr): void;
  /** Registers a conversation function; unregister it after pam_end. */
  registerConv(fn: (numMsg: number, msg: bigint, resp: bigint, appdata: Ptr) => number): bigint;
  unregisterConv(cb: bigint): void;
}

const cache = new Map<string, Libpam>();

/** Loads libpam (once per thread and path) and binds the application API. */
export function loadLibpam(path = DEFAULT_LIBPAM): Libpam {
  const hit = cache.get(path);
  if (hit) return hit;
  declareTypes();
  let lib: LibraryHandle;
  let libc: LibraryHandle;
  try {
    lib = koffi.load(path);
    libc = koffi.load(LIBC);
  } catch (e) {
    throw new LibpamUnavailableError(
      `cannot load ${path}: ${(e as Error).message}; install the PAM runtime (Debian: apt-get install libpam0g)`, { cause: e });
  }
  const fn = (proto: string) => {
    try {
      return lib.func(proto);
    } catch (e) {
      throw new LibpamUnavailableError(`${path} lacks a PAM function (${proto}): ${(e as Error).message}`, { cause: e });
    }
  };
  // pam_start_confdir appeared in Linux-PAM 1.4.0; detect it here so that a
  // call asking for a confdir gets one clear sentence instead of a crash.
  let startConfdir: ReturnType<LibraryHandle['func']> | null = null;
  try {
    startConfdir = lib.func('int pam_start_confdir(const char *service_name, const char *user, const pam_conv *pam_conversation, const char *confdir, _Out_ pam_handle_t **pamh)');
  } catch {
    startConfdir = null;
  }
  const bound: Libpam = {
    path,
    hasStartConfdir: startConfdir !== null,
    pam_start: fn('int pam_start(const char *service_name, const char *user, const pam_conv *pam_conversation, _Out_ pam_handle_t **pamh)'),
    pam_start_confdir: startConfdir,
    pam_end: fn('int pam_end(pam_handle_t *pamh, int pam_status)'),
    // pam_set_item takes `const void *item`; the bridge passes only string
    // items (libpam copies them), so the prototype says `const char *`.
    pam_set_item: fn('int pam_set_item(pam_handle_t *pamh, int item_type, const char *item)'),
    pam_get_item: fn('int pam_get_item(const pam_handle_t *pamh, int item_type, _Out_ const void **item)'),
    pam_strerror: fn('const char *pam_strerror(pam_handle_t *pamh, int errnum)'),
    pam_authenticate: fn('int pam_authenticate(pam_handle_t *pamh, int flags)'),
    pam_setcred: fn('int pam_setcred(pam_handle_t *pamh, int flags)'),
    pam_acct_mgmt: fn('int pam_acct_mgmt(pam_handle_t *pamh, int flags)'),
    pam_open_session: fn('int pam_open_session(pam_handle_t *pamh, int flags)'),
    pam_close_session: fn('int pam_close_session(pam_handle_t *pamh, int flags)'),
    pam_chauthtok: fn('int pam_chauthtok(pam_handle_t *pamh, int flags)'),
    pam_putenv: fn('int pam_putenv(pam_handle_t *pamh, const char *name_value)'),
    pam_getenv: fn('const char *pam_getenv(pam_handle_t *pamh, const char *name)'),
    // The list and its strings are malloc()ed for the caller to free(), so
    // the result stays a pointer (a `char **` would be decoded and leaked).
    pam_getenvlist: fn('void *pam_getenvlist(pam_handle_t *pamh)'),
    calloc: libc.func('void *calloc(size_t nmemb, size_t size)'),
    // strdup returns `char *`; declared `void *` so that koffi hands back the
    // address for a pam_response instead of decoding (and losing) it.
    strdup: libc.func('void *strdup(const char *s)'),
    free: libc.func('void free(void *ptr)'),
    registerConv: (f) => koffi.register(f, 'pam_conv_fn *'),
    unregisterConv: (cb) => koffi.unregister(cb),
  };
  cache.set(path, bound);
  return bound;
}

/** Reads the `const struct pam_message **msg` argument of a conversation call. */
export function decodeMessages(msg: bigint, n: number): { style: number; text: string }[] {
  // Linux-PAM's convention (pam_conv(3)): msg is an array of n pointers.
  // Read one by one: koffi 3.3.4's array form, decode(msg, 'void *', n),
  // leaks about 18 bytes a call (measured; the 10,000-transaction test sees it).
  const ptrs = Array.from({ length: n }, (_, i) => pointerAt(msg, i));
  return ptrs.map((p) => {
    if (p === null) return { style: -1, text: '' };
    const m = koffi.decode(p, 'pam_message') as { msg_style: number; msg: string | null };
    return { style: m.msg_style, text: m.msg ?? '' };
  });
}

/** Stores `resp` at index i of a calloc()ed pam_response array. */
export function storeResponse(array: bigint, i: number, resp: bigint): void {
  koffi.encode(array, i * koffi.sizeof('pam_response') + koffi.offsetof('pam_response', 'resp'), 'void *', resp);
}

export const pamResponseSize = (): number => koffi.sizeof('pam_response');

/** Writes a pointer through a `T **` out-argument, e.g. `*resp = array`. */
export const storePointer = (where: bigint, value: bigint): void => koffi.encode(where, 'void *', value);

/** Reads entry i of an array of pointers (pam_conv's msg, pam_getenvlist's list). */
export const pointerAt = (array: bigint, i: number): Ptr =>
  koffi.decode(array, i * koffi.sizeof('void *'), 'void *') as Ptr;

/** The NUL-terminated UTF-8 string at p (koffi.decode(p, 'char *') would read a pointer at p). */
export const cString = (p: bigint): string => koffi.decode.string(p);

/** Registered callbacks alive in this thread (koffi allows 8192 at once). */
export const liveCallbacks = (): number => koffi.stats().callbacks;
