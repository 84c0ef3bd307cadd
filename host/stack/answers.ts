/**
 * An application's conversation that answers prompts from a script, in
 * order, as `pamwasm run --answer` and the test harness do, and records
 * every prompt with the answer it got. A prompt past the end of the script
 * gets no answer, so the module sees `conv-err`, as from a conversation
 * function that fails (pam_conv(3)).
 *
 * @example
 *   const { conversation, prompts } = scriptedConversation(['alice', 's3cret']);
 *   await runStack({ stackFile, items, conversation });
 *   prompts;   // [{ style: 'echo-on', text: 'Name: ', answer: 'alice' }, ...]
 */
import type { StackConversation, PromptStyle } from '../runtime/index.js';

/** A prompt a module asked, and the answer it got (undefined: none, the module saw conv-err). */
export interface PromptRecord {
  style: PromptStyle;
  text: string;
  answer?: string;
}

/** A source of answers: the next one for a prompt, or undefined for none. */
export type Answerer = (style: PromptStyle, text: string) => string | undefined;

/** A conversation answering with `answers` (an array, taken in order, or a function), recording each prompt. */
export function scriptedConversation(answers: readonly string[] | Answerer): { conversation: StackConversation; prompts: PromptRecord[] } {
  const prompts: PromptRecord[] = [];
  let next = 0;
  const answer: Answerer = typeof answers === 'function' ? answers : () => (next < answers.length ? answers[next++] : undefined);
  return {
    prompts,
    conversation: {
      prompt(style, text) {
        const a = answer(style, text);
        prompts.push(a === undefined ? { style, text } : { style, text, answer: a });
        return a;
      },
    },
  };
}
