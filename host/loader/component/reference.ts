/**
 * The session-module world as the fast path compares components with it:
 * the imports, type imports and exports of the reference component that
 * `wit/` itself makes (wasm-tools' componentEmbed and componentNew with a
 * dummy core module), read by this folder's own reader. The component is
 * the one world.ts keeps beside the reference declarations
 * (dist/reference-world.json, written by `npm run build` and used only
 * when its key is this installation's; built from `wit/` otherwise), so
 * the fast path and jco's world check compare with the same world, and no
 * second description of it is written by hand.
 */
import { referenceComponent } from '../world.js';
import { readModel } from './model.js';
import { signatureOf, type Signature } from './plan.js';

let world: Promise<Signature | undefined> | undefined;

/** The world's signature, or undefined when the reference cannot be read (then every component takes the jco path). */
export function worldSignature(): Promise<Signature | undefined> {
  world ??= referenceComponent().then(
    (component) => {
      const s = signatureOf(readModel(new Uint8Array(Buffer.from(component, 'base64'))));
      return s.exports.size && s.instances.size ? s : undefined;
    },
    () => undefined,
  ).catch(() => undefined);
  return world;
}
