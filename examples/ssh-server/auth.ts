/**
 * SSH user authentication through the system libpam (the libpam bridge):
 * pam_authenticate then pam_acct_mgmt, as sshd does with UsePAM. The PAM
 * conversation is how the password gets to the modules: for the `password`
 * method it is answered from the password the client already sent; for
 * `keyboard-interactive` each PAM prompt goes to the client and libpam waits
 * (in its helper) for the answer, however long the user takes.
 */
import { openPamHandle } from '../../host/libpam/index.js';
import type { Conversation, ConvMessage, PamMode } from '../../host/libpam/index.js';

export interface PamAuthOptions {
  service: string;
  confdir?: string;
  mode?: PamMode;
  user: string;
  rhost: string;
  conversation: Conversation;
}

export interface AuthResult {
  ok: boolean;
  /** The failing call's PAM code name (PAM_AUTH_ERR, ...), or PAM_SUCCESS. */
  name: string;
}

const isPrompt = (m: ConvMessage) => m.style.startsWith('prompt-') || m.style === 'radio';

/**
 * pam_authenticate + pam_acct_mgmt on a fresh handle, ended before returning.
 * A handle per attempt, in a helper of its own: a module that blocks or
 * crashes takes one login with it, not the server (sshd's per-connection
 * monitor does the same).
 */
export async function pamAuthenticate(o: PamAuthOptions): Promise<AuthResult> {
  const h = await openPamHandle({
    service: o.service, confdir: o.confdir, mode: o.mode, user: o.user, conversation: o.conversation,
    // sshd sets PAM_TTY to "ssh" before authentication (auth-pam.c) for modules that want one.
    items: { rhost: o.rhost, tty: 'ssh' },
  });
  try {
    const auth = await h.authenticate({ throwOnError: false });
    if (!auth.ok) return { ok: false, name: auth.name };
    const acct = await h.acctMgmt({ throwOnError: false });
    return { ok: acct.ok, name: acct.name };
  } finally {
    await h.end({ throwOnError: false });
  }
}

/**
 * The conversation for the `password` method: every echo-off prompt gets the
 * password the client sent (sshd's sshpam_passwd_conv); an echo-on prompt
 * (asking for something else) cannot be answered, so the module gets
 * PAM_CONV_ERR; info and error messages have nowhere to go during this method
 * and are handed to `onMessage`.
 */
export function passwordConversation(password: string, onMessage?: (m: ConvMessage) => void): Conversation {
  return (messages) => messages.map((m) => {
    if (m.style === 'prompt-echo-off') return password;
    if (isPrompt(m)) throw new Error(`the password method cannot answer "${m.text}"`);
    onMessage?.(m);
    return null;
  });
}

/** What `keyboardConversation` needs from ssh2's keyboard-interactive context. */
export interface KeyboardPrompter {
  prompt(prompts: { prompt: string; echo: boolean }[], title: string, instructions: string, cb: (answers: string[]) => void): void;
}

/**
 * The conversation for `keyboard-interactive` (RFC 4256): PAM's prompts of one
 * call become one INFO_REQUEST, with the info and error messages before them
 * as its instructions (messages with no prompt after them wait for the next
 * one). `aborted` rejects when the client gives up or disconnects, so libpam
 * gets PAM_CONV_ERR instead of waiting forever.
 */
export function keyboardConversation(ctx: KeyboardPrompter, aborted: Promise<never>): Conversation {
  const pending: string[] = [];
  return async (messages) => {
    const prompts = messages.filter(isPrompt);
    const notes = messages.filter((m) => !isPrompt(m)).map((m) => m.text);
    if (prompts.length === 0) {
      pending.push(...notes);
      return messages.map(() => null);
    }
    const instructions = [...pending.splice(0), ...notes].join('\n');
    const answers = await Promise.race([
      new Promise<string[]>((resolve) => ctx.prompt(
        prompts.map((m) => ({ prompt: m.text, echo: m.style !== 'prompt-echo-off' })), '', instructions, resolve,
      )),
      aborted,
    ]);
    let next = 0;
    return messages.map((m) => (isPrompt(m) ? answers[next++] ?? null : null));
  };
}
