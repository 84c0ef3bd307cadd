/**
 * `--what-if LINE=OPEN[,CLOSE]` as `pamwasm run` and the playground take it:
 * the stack line (`7`, a line of the stack file, or `common.stack:3`, a
 * line of an included file) returns the chosen code at open (and at close:
 * the same code unless a second is given; `-` runs the module at that hook).
 */
import { codeByToken } from '../codes/index.js';
import { UsageError } from '../errors/index.js';
import type { Stack } from '../stack/parse.js';
import type { WhatIf } from '../stack/session.js';
import { parseCodes } from './outcomes.js';

const codeOf = (word: string): number | undefined => (word === '-' ? undefined : codeByToken(parseCodes([word])[0])!.number);

/** Resolves what-if specs against a parsed stack: handler index -> codes. */
export function parseWhatIfs(specs: readonly string[], stack: Stack): Map<number, WhatIf> {
  const out = new Map<number, WhatIf>();
  for (const spec of specs) {
    const m = /^(?:(.+):)?(\d+)=([^,]+)(?:,([^,]+))?$/.exec(spec.trim());
    if (!m) throw new UsageError(`--what-if "${spec}" is not LINE=CODE[,CLOSE-CODE]: write e.g. 3=session_err or common.stack:2=success,ignore.`);
    const [, file, line, open, close] = m;
    const where = (path: string) => (file === undefined ? path === stack.file : path === file || path.endsWith(`/${file}`));
    const matched = stack.handlers.flatMap((h, i) => (h.kind === 'module' && h.line === Number(line) && where(h.file) ? [i] : []));
    if (!matched.length) {
      throw new UsageError(`--what-if "${spec}": ${file ?? stack.file} has no session module line ${line}.`);
    }
    const whatIf: WhatIf = { open: codeOf(open), close: codeOf(close ?? open) };
    for (const i of matched) out.set(i, whatIf);
  }
  return out;
}
