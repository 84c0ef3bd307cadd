/**
 * One conversation message (pam_conv(3)), as every layer names it: the
 * libpam bridge decodes libpam's `struct pam_message` into it, the WASM
 * stack records its modules' messages as it, and the host API hands it to
 * the application's conversation and keeps it in `Session.messages`.
 */

/** Conversation message styles by their number in `<security/_pam_types.h>`. */
export const MESSAGE_STYLES = {
  1: 'prompt-echo-off', // PAM_PROMPT_ECHO_OFF
  2: 'prompt-echo-on', // PAM_PROMPT_ECHO_ON
  3: 'error', // PAM_ERROR_MSG
  4: 'info', // PAM_TEXT_INFO
  5: 'radio', // PAM_RADIO_TYPE (Linux-PAM extension: a yes/no/maybe question)
} as const;
// PAM_BINARY_PROMPT (7) carries bytes, not text: the bridge answers it with
// PAM_CONV_ERR, as does any style it does not know (fail closed).

export type MessageStyle = (typeof MESSAGE_STYLES)[keyof typeof MESSAGE_STYLES];

/** True for the styles that need an answer from the user. */
export const isPrompt = (style: MessageStyle): boolean => style.startsWith('prompt-') || style === 'radio';

/** One message of a conversation: a prompt, or an `info` / `error` message to show. */
export interface ConvMessage {
  style: MessageStyle;
  text: string;
}
