/**
 * pam_echo(8)'s `%` escapes, without the host calls (so it can be tested
 * outside a component). `substitute()` in index.ts wires it to get-item.
 */
import type { Item } from 'pamwasm:session/types';

/** The escapes that read a PAM item, as in Linux-PAM's pam_echo.c. */
export const ITEM_ESCAPES: Readonly<Record<string, Item>> = {
  H: 'rhost',
  s: 'service',
  t: 'tty',
  U: 'ruser',
  u: 'user',
};

export interface SubstituteOptions {
  /** Text for an item that is not set. Default `(null)`, as pam_echo prints. */
  missing?: string;
  /**
   * Text for `%h`, the local host name. A guest cannot call gethostname(2),
   * so by default `%h` gets `missing`, as pam_echo does when gethostname fails.
   */
  hostname?: string;
}

/**
 * Replaces `%u` (user), `%s` (service), `%t` (tty), `%H` (rhost), `%U` (ruser)
 * and `%h` (host name) with the item `lookup` gives. Like pam_echo, any other
 * `%x` becomes `x` (so `%%` is a literal `%`) and a trailing `%` stays.
 * Each item is looked up at most once per call.
 *
 * @example
 *   expand('hello %u on %t', (i) => ({ user: 'alice', tty: 'pts/0' })[i])  // 'hello alice on pts/0'
 */
export function expand(template: string, lookup: (item: Item) => string | undefined, opts: SubstituteOptions = {}): string {
  const missing = opts.missing ?? '(null)';
  const seen = new Map<Item, string>();
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c !== '%' || i + 1 === template.length) {
      out += c;
      continue;
    }
    const escape = template[++i];
    if (escape === 'h') {
      out += opts.hostname ?? missing;
    } else if (Object.hasOwn(ITEM_ESCAPES, escape)) {
      const item = ITEM_ESCAPES[escape];
      let value = seen.get(item);
      if (value === undefined) {
        value = lookup(item) ?? missing;
        seen.set(item, value);
      }
      out += value;
    } else {
      out += escape;
    }
  }
  return out;
}
