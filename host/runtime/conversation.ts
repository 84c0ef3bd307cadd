/**
 * Host side of `pamwasm:session/conversation` (pam_info(3), pam_error(3),
 * pam_prompt(3)). Every shown message is also recorded on the session, in
 * order, so a run's messages can be compared with libpam's conversation log.
 * The line's clock is stopped while the application has a message or a
 * prompt: the time a person takes to answer is not the module's.
 */
import type { WitStatus } from '../codes/index.js';
import { unclocked, type LineContext } from './context.js';
import { capped, utf8Length } from './limits.js';
import type { PromptStyle } from './types.js';

/** The error jco expects an import to throw for a `result` error case. */
class ResultError extends Error {
  constructor(readonly payload: WitStatus) { super(payload); }
}

export function conversationImports(ctx: LineContext) {
  const admit = (text: string): WitStatus | undefined => {
    if (++ctx.calls.messages > ctx.limits.messagesPerCall) return 'buf-err';
    if (utf8Length(text) > ctx.limits.messageBytes) return 'buf-err';
    return undefined;
  };
  const show = (style: 'info' | 'error', text: string): WitStatus => {
    const refused = admit(text);
    if (refused) return refused;
    const shown = unclocked(ctx, () => ctx.conversation[style]?.(text));
    if (shown === false) return 'conv-err';
    ctx.messages.push({ style, text });
    return 'success';
  };
  const limit = ctx.limits.messageBytes;
  return {
    info: capped(limit, (text: string): WitStatus => show('info', text)),
    error: capped(limit, (text: string): WitStatus => show('error', text)),
    prompt: capped(limit, (style: PromptStyle, text: string): string => {
      const refused = admit(text);
      if (refused) throw new ResultError(refused);
      const answer = unclocked(ctx, () => ctx.conversation.prompt?.(style, text));
      if (answer === undefined) throw new ResultError('conv-err');
      return answer;
    }),
  };
}
