/**
 * A PAM handle (pam_handle_t) living in a libpam helper, with the libpam
 * application API as async methods.
 *
 * Codes are data: every stack call returns a {@link PamResult}. By default a
 * call whose code is not PAM_SUCCESS also throws a PamError (so a forgotten
 * check fails closed); pass `throwOnError: false` to get the code back
 * instead, as a stack dispatcher needs for open/close. Host failures (helper
 * crash, bad usage) always throw.
 */
import { PAM, codeByNumber, isPamCode } from '../codes/index.js';
import { PamError, UsageError } from '../errors/index.js';
import {
  type AuthFlags, type ChauthtokFlags, type PamItemName, type SetcredFlags, type SilentOption,
  authFlags, chauthtokFlags, isPrompt, itemNumber, sessionFlags, setcredFlags,
} from './constants.js';
import type { PamHelper } from './helper.js';
import { type CodeReply, type ConvAnswers, type ConvMessage, DISPATCH_CALLS, type DispatchFn } from './protocol.js';

/** What a libpam call returned. */
export interface PamResult {
  /** The libpam function, e.g. `pam_open_session`. */
  readonly call: string;
  /** The PAM code's number, e.g. 14. */
  readonly code: number;
  /** The PAM code's name from host/codes, e.g. `PAM_SESSION_ERR`. */
  readonly name: string;
  /** pam_strerror's text for the code. */
  readonly message: string;
  /** True for PAM_SUCCESS. */
  readonly ok: boolean;
}

/** Whether a failing code throws (default) or comes back as data. */
export interface ThrowOption { throwOnError?: boolean }

/**
 * The application's conversation (pam_conv(3)): gets all messages of one
 * call, in order, and answers each: a string for a prompt (`prompt-echo-off`,
 * `prompt-echo-on`, `radio`), nothing for `info` and `error`. It may take as
 * long as it likes (libpam waits in the helper). Throwing, or answering a
 * prompt with anything but a string, gives the module PAM_CONV_ERR.
 */
export type Conversation = (messages: readonly ConvMessage[]) =>
  readonly (string | null | undefined)[] | Promise<readonly (string | null | undefined)[]>;

/** Turns a per-message function into a {@link Conversation}, answering messages one after another. */
export function answerEach(fn: (message: ConvMessage, index: number) => string | null | undefined | Promise<string | null | undefined>): Conversation {
  return async (messages) => {
    const answers: (string | null | undefined)[] = [];
    for (const [i, m] of messages.entries()) answers.push(await fn(m, i));
    return answers;
  };
}

/** Answers info and error messages, refuses prompts: for non-interactive sessions. */
export const nonInteractiveConversation: Conversation = (messages) => messages.map(() => null);

/** Throws a PamError for a failed result; returns it otherwise. */
export function checkPamResult(result: PamResult): PamResult {
  if (!result.ok) throw new PamError(result.call, result.code, result.name, result.message);
  return result;
}

export function toResult(call: string, r: CodeReply): PamResult {
  // libpam never returns a number outside the table from a stack (it maps
  // them to PAM_PERM_DENIED); should one come anyway, it is not success.
  const name = isPamCode(r.code) ? codeByNumber(r.code).name : `PAM_UNKNOWN_CODE_${r.code}`;
  return { call, code: r.code, name, message: r.message, ok: r.code === PAM.SUCCESS.number };
}

/**
 * One PAM transaction (pam_handle_t), from {@link openPamHandle}. Its calls
 * run in order, one at a time, in the helper that holds it.
 *
 * @example
 *   const h = await openPamHandle({ service: 'sshd', user: 'alice', conversation });
 *   const auth = await h.authenticate({ throwOnError: false });
 *   if (auth.ok) await h.acctMgmt();
 *   await h.end();
 */
export class PamHandle {
  /** The last conversation failure (handler threw or answered wrongly), for logs. */
  lastConversationError: Error | undefined;
  private ended = false;

  /** @internal Use {@link openPamHandle}. */
  constructor(
    /** The helper this handle lives in. */
    readonly helper: PamHelper,
    private readonly hid: number,
    private readonly conversation: Conversation,
    private readonly ownsHelper: boolean,
  ) {}

  /** Sets a string item (pam_set_item(3)); null unsets it. */
  async setItem(item: PamItemName, value: string | null): Promise<void> {
    const r = await this.call<CodeReply>({ op: 'set_item', hid: this.hid, item: itemNumber(item), value });
    this.settle(`pam_set_item(${item})`, r);
  }

  /** Reads a string item (pam_get_item(3)); undefined when it is not set. */
  async getItem(item: PamItemName): Promise<string | undefined> {
    const r = await this.call<CodeReply & { value: string | null }>({ op: 'get_item', hid: this.hid, item: itemNumber(item) });
    this.settle(`pam_get_item(${item})`, r);
    return r.value ?? undefined;
  }

  /** pam_authenticate(3). A failure may take pam_faildelay's time; the host's event loop keeps running. */
  async authenticate(flags?: AuthFlags & ThrowOption): Promise<PamResult> {
    return this.dispatch('authenticate', authFlags(flags), flags);
  }

  /** pam_acct_mgmt(3). */
  async acctMgmt(flags?: AuthFlags & ThrowOption): Promise<PamResult> {
    return this.dispatch('acct_mgmt', authFlags(flags), flags);
  }

  /** pam_setcred(3); `action` defaults to `establish`, as in libpam. */
  async setcred(flags?: SetcredFlags & ThrowOption): Promise<PamResult> {
    return this.dispatch('setcred', setcredFlags(flags), flags);
  }

  /** pam_chauthtok(3). */
  async chauthtok(flags?: ChauthtokFlags & ThrowOption): Promise<PamResult> {
    return this.dispatch('chauthtok', chauthtokFlags(flags), flags);
  }

  /**
   * pam_open_session(3).
   * @example
   *   const r = await h.openSession({ throwOnError: false });
   *   if (!r.ok) log(`${r.name}: ${r.message}`);
   */
  async openSession(flags?: SilentOption & ThrowOption): Promise<PamResult> {
    return this.dispatch('open_session', sessionFlags(flags), flags);
  }

  /** pam_close_session(3), on the handle (and in the process) that opened the session. */
  async closeSession(flags?: SilentOption & ThrowOption): Promise<PamResult> {
    return this.dispatch('close_session', sessionFlags(flags), flags);
  }

  /** pam_getenv(3): undefined when the variable is not set. */
  async getenv(name: string): Promise<string | undefined> {
    return (await this.call<string | null>({ op: 'getenv', hid: this.hid, name })) ?? undefined;
  }

  /** pam_putenv(3): `NAME=value` sets, `NAME=` sets empty, `NAME` deletes. */
  async putenv(nameValue: string): Promise<void> {
    const r = await this.call<CodeReply>({ op: 'putenv', hid: this.hid, nameValue });
    this.settle('pam_putenv', r);
  }

  /**
   * pam_getenvlist(3): the PAM environment as `NAME=value` strings.
   * @example
   *   Object.fromEntries((await h.getenvlist()).map((e) => e.split(/=(.*)/s, 2)))
   */
  async getenvlist(): Promise<string[]> {
    const list = await this.call<string[] | null>({ op: 'getenvlist', hid: this.hid });
    // libpam returns NULL only on failure: no memory for the copy, or a
    // damaged environment (pam_env.c, which logs the reason).
    if (list === null) {
      throw new PamError('pam_getenvlist', PAM.BUF_ERR.number, PAM.BUF_ERR.name, await this.strerror(PAM.BUF_ERR.number));
    }
    return list;
  }

  /** pam_strerror(3). */
  strerror(code: number): Promise<string> {
    return this.helper.strerror(code);
  }

  /**
   * pam_end(3). `status` defaults to the last code libpam returned on this
   * handle; `dataSilent` adds PAM_DATA_SILENT. A helper started for this
   * handle alone is closed afterwards.
   */
  async end(options: { status?: number; dataSilent?: boolean } & ThrowOption = {}): Promise<PamResult> {
    if (this.ended) throw new UsageError('pam_end called twice on one PAM handle');
    this.ended = true;
    try {
      const r = await this.helper.request<CodeReply>({
        op: 'end', hid: this.hid, status: options.status ?? null, dataSilent: options.dataSilent ?? false,
      });
      return this.settle('pam_end', r, options);
    } finally {
      if (this.ownsHelper) await this.helper.close();
    }
  }

  private async dispatch(fn: DispatchFn, flags: number, o: ThrowOption | undefined): Promise<PamResult> {
    const r = await this.call<CodeReply>({ op: 'dispatch', hid: this.hid, fn, flags });
    return this.settle(DISPATCH_CALLS[fn], r, o);
  }

  /** A reply as a PamResult; throws a PamError for a failure unless `throwOnError` is false. */
  private settle(call: string, r: CodeReply, o?: ThrowOption): PamResult {
    const result = toResult(call, r);
    return o?.throwOnError === false ? result : checkPamResult(result);
  }

  private call<T>(req: Parameters<PamHelper['request']>[0]): Promise<T> {
    if (this.ended) return Promise.reject(new UsageError(`PAM handle used after pam_end (${req.op})`));
    return this.helper.request<T>(req, (messages) => this.converse(messages));
  }

  /** Runs the application's conversation and checks its answers. */
  private async converse(messages: ConvMessage[]): Promise<ConvAnswers> {
    try {
      const answers = await this.conversation(messages);
      if (!Array.isArray(answers) || answers.length > messages.length) {
        throw new UsageError(`the conversation must answer with an array of at most ${messages.length} entries`);
      }
      return messages.map((m, i) => {
        const a = answers[i];
        if (!isPrompt(m.style)) return null;
        if (typeof a !== 'string' || a.includes('\0')) {
          throw new UsageError(`the conversation gave no string (without NUL) for ${m.style} message ${i} "${m.text}"`);
        }
        return a;
      });
    } catch (e) {
      this.lastConversationError = e as Error;
      return null;
    }
  }
}
