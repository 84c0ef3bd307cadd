import { UsageError } from '../errors/index.js';
import { didYouMean } from '../errors/suggest.js';

/** A usage error whose sentence ends with where to find help. */
export function usage(what: string, command?: string): UsageError {
  return new UsageError(`${what}; see \`pamwasm ${command ? `${command} ` : ''}--help\`.`);
}

/** The long options a command's help lists, for "did you mean". */
export const optionsOf = (help: string): Set<string> => new Set([...help.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]));

/**
 * The one sentence for an error of a command whose usage is `help`: util.parseArgs's
 * unknown option gets the option it was probably meant to be.
 */
export function errorSentence(e: Error & { code?: string }, help: string): string {
  const unknown = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /option '(--[^'=]+)/.exec(e.message)?.[1] : undefined;
  if (!unknown) return e.message;
  return `unknown option ${unknown}${didYouMean(unknown, optionsOf(help), (s) => s)}; see the options with --help.`;
}
