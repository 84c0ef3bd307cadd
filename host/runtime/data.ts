/**
 * Host side of `pamwasm:session/data` (pam_set_data(3) / pam_get_data(3)).
 * Each stack line has its own map, so modules never see each other's data
 * (libpam keys data by name only; a per-line map is stricter and avoids two
 * lines of one module clobbering each other).
 */
import type { WitStatus } from '../codes/index.js';
import type { LineContext } from './context.js';
import { utf8Length } from './limits.js';

export function dataImports(ctx: LineContext) {
  const size = () => {
    let n = 0;
    for (const [k, v] of ctx.data) n += utf8Length(k) + v.length;
    return n;
  };
  return {
    setData(name: string, value: Uint8Array): WitStatus {
      const old = ctx.data.get(name);
      const after = size() - (old ? utf8Length(name) + old.length : 0) + utf8Length(name) + value.length;
      if (after > ctx.limits.dataBytes) return 'buf-err';
      // jco hands over a view of guest memory; keep a copy that outlives the call.
      ctx.data.set(name, Uint8Array.from(value));
      return 'success';
    },
    getData(name: string): Uint8Array | undefined {
      return ctx.data.get(name);
    },
    deleteData(name: string): WitStatus {
      return ctx.data.delete(name) ? 'success' : 'no-module-data';
    },
  };
}
