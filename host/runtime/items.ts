/** Host side of `pamwasm:session/items` (pam_get_item(3)). */
import type { LineContext } from './context.js';
import type { WitItem } from './types.js';

export function itemsImports(ctx: LineContext) {
  return {
    /** PAM_AUTHTOK is not an `item` case at all, so it cannot be asked for. */
    getItem(which: WitItem): string | undefined {
      return ctx.handle.items[which];
    },
  };
}
