/**
 * The loader's fast path: its own reader and instantiator for components of
 * the session-module world, so that a new component needs no jco.
 *
 * `recognizeComponent` answers with an instantiation plan only for a
 * component it fully recognizes (see plan.ts for what that takes), and with
 * the reason otherwise; the loader then takes the jco path, unchanged, which
 * either accepts the component or refuses it with its precise error. So this
 * path only ever accepts, and never accepts a shape it does not know.
 *
 * @example
 *   const r = await recognizeComponent(bytes);
 *   if ('plan' in r) r.instantiate(getCoreModule, hostImports(ctx), meter.instantiateCore);
 */
import { Unrecognized } from './binary.js';
import { instantiator, type Instantiator } from './instantiate.js';
import { recognize, type Recognized } from './plan.js';
import { worldFace } from './reference.js';

export { instantiator, type Instantiator } from './instantiate.js';
export { camel } from '../names.js';
export type { Plan, Recognized } from './plan.js';

/**
 * A plan for `bytes` with its instantiator (the plan's lifts and lowers
 * compiled: one this file cannot compile is `Unrecognized` too), or why
 * there is none. Never throws.
 */
export async function recognizeComponent(bytes: Uint8Array): Promise<(Recognized & { instantiate: Instantiator }) | { reason: string }> {
  let world;
  try {
    world = await worldFace();
  } catch (e) {
    return { reason: `the reference world could not be read (${(e as Error)?.message ?? e})` };
  }
  try {
    const r = recognize(bytes, world);
    return { ...r, instantiate: instantiator(r.plan) };
  } catch (e) {
    // A bug here must not notRecognized (or accept) anything: jco answers instead.
    return { reason: e instanceof Unrecognized ? e.message : `reader error: ${(e as Error)?.message ?? e}` };
  }
}
