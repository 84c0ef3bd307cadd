import { UsageError } from '../errors/index.js';

/** A usage error whose sentence ends with where to find help. */
export function usage(what: string, command?: string): UsageError {
  return new UsageError(`${what}; see \`pamwasm ${command ? `${command} ` : ''}--help\`.`);
}
