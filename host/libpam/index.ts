// Declarations name Node types (Buffer, node:fs); this brings them into an app whose tsconfig lists no "types".
/// <reference types="node" preserve="true" />
/**
 * The libpam bridge: the system's Linux-PAM application API, called through
 * koffi, without blocking the host's event loop and without risking the host.
 *
 * Why a helper: libpam is synchronous and its conversation function must
 * return an answer before the module goes on, but the application's answer
 * may come later (an SSH client typing a password). koffi runs JS callbacks
 * only on the thread that owns them, and an `.async` call queues them to the
 * main thread, so the main thread cannot both stay free and block in a
 * conversation. libpam therefore runs in a helper that may block: a child
 * process by default (mode `helper`), or a worker thread (`in-process`). The
 * helper sends each conversation to the host and waits; the host's async
 * handler answers whenever it likes.
 *
 * Why a process by default: pam_open_session may change the calling process's
 * credentials, loginuid or SELinux context (pam_loginuid, pam_selinux), and a
 * native module may crash; JupyterHub and WebDAV servers run libpam apart for
 * the same reasons. A crash fails that helper's calls with
 * PamHelperCrashedError (`ERR_PAMWASM_PAM_HELPER_CRASHED`); the host and other helpers
 * go on. A session's open and close run on one handle in one helper, as
 * pam_mount and pam_loginuid require.
 *
 * @example
 *   const h = await openPamHandle({
 *     service: 'sshd', user: 'alice', confdir: '/tmp/pam.d',
 *     items: { rhost: '192.0.2.1', tty: 'ssh' },
 *     // one message after another; `ask` may take minutes
    conversation: answerEach((m) => (m.style.startsWith('prompt') ? ask(m.text) : show(m.text))),
 *   });
 *   await h.authenticate();                                  // throws PamError on failure
 *   const r = await h.openSession({ throwOnError: false });  // or get the code as data
 *   ...
 *   await h.closeSession();
 *   await h.end();
 */
import { PamError } from '../errors/index.js';
import { type PamItemName, itemNumber } from './constants.js';
import { type Conversation, PamHandle, nonInteractiveConversation, toResult } from './handle.js';
import { PamHelper, type PamHelperOptions } from './helper.js';
import { callName, type CodeReply, type Request } from './protocol.js';

export interface OpenPamHandleOptions extends PamHelperOptions {
  /** The service name: the file read from the config dir (pam_start(3)). */
  service: string;
  /** The user; when absent, a module asks for it through the conversation (pam_get_user(3)). */
  user?: string | null;
  /**
   * A directory of service files, read instead of /etc/pam.d (and never
   * /etc/pam.conf), through pam_start_confdir (Linux-PAM >= 1.4.0). Without
   * it libpam reads the system configuration. NoConfdirError
   * (`ERR_PAMWASM_NO_CONFDIR`) if the system libpam lacks pam_start_confdir.
   */
  confdir?: string;
  /** The application's conversation. Default: info and error messages are accepted, prompts fail. */
  conversation?: Conversation;
  /** String items to set right after pam_start (tty, rhost, ruser, ...). */
  items?: Partial<Record<PamItemName, string>>;
  /**
   * A helper to put the handle in, shared with other handles (its mode and
   * libpam win). Default: a helper of its own, closed by `end()`.
   */
  helper?: PamHelper;
}

/**
 * pam_start(3) / pam_start_confdir(3): starts a PAM transaction in a helper.
 * Throws PamError when libpam refuses (the code, its name and pam_strerror's
 * text), and host errors (LibpamUnavailableError, NoConfdirError,
 * PamHelperCrashedError) as such.
 *
 * @example
 *   const h = await openPamHandle({ service: 'login', user: 'alice', items: { tty: 'pts/0' } });
 *   await h.openSession();
 *   console.log(await h.getenvlist());   // ['LANG=C.UTF-8', ...]
 *   await h.closeSession();
 *   await h.end();
 */
export async function openPamHandle(options: OpenPamHandleOptions): Promise<PamHandle> {
  const items = Object.entries(options.items ?? {}).map(([k, v]) => [itemNumber(k), v ?? null] as [number, string | null]);
  const own = options.helper === undefined;
  const helper = options.helper ?? await PamHelper.start(options);
  try {
    const req: Request = { op: 'start', service: options.service, user: options.user ?? null, confdir: options.confdir ?? null, items };
    const r = await helper.request<CodeReply & { hid: number | null; item?: number }>(req);
    if (r.hid === null) {
      const call = r.item !== undefined ? `pam_set_item(${r.item})` : callName(req);
      const result = toResult(call, r);
      throw new PamError(call, result.code, result.name, result.message);
    }
    return new PamHandle(helper, r.hid, options.conversation ?? nonInteractiveConversation, own);
  } catch (e) {
    if (own) await helper.close();
    throw e;
  }
}

export { PamHelper } from './helper.js';
export type { PamHelperOptions, PamMode } from './helper.js';
export { PamHandle, answerEach, checkPamResult, nonInteractiveConversation } from './handle.js';
export type { Conversation, PamResult, ThrowOption } from './handle.js';
export { PAM_ITEMS } from './constants.js';
export type {
  AuthFlags, ChauthtokFlags, CredAction, MessageStyle, PamItemName, SetcredFlags, SilentOption,
} from './constants.js';
export type { ConvMessage, HelperInfo, HelperStats } from './protocol.js';
