/**
 * Host side of wasi:random 0.2 (random, insecure, insecure-seed), given only
 * with the random grant. All three draw from the host's CSPRNG: "insecure"
 * in WASI allows weaker numbers, it does not ask for them.
 */
import { randomBytes } from 'node:crypto';

/**
 * Most bytes one call may ask for. The spec wants exactly `len` bytes, so a
 * larger request traps rather than make the host allocate what the guest names.
 */
export const MAX_RANDOM_BYTES = 1024 * 1024;

function bytes(len: bigint): Uint8Array {
  if (len > BigInt(MAX_RANDOM_BYTES)) {
    throw new WebAssembly.RuntimeError(`the module asked for ${len} random bytes at once (at most ${MAX_RANDOM_BYTES})`);
  }
  return new Uint8Array(randomBytes(Number(len)));
}

const u64 = (): bigint => randomBytes(8).readBigUInt64LE(0);

export function randomImports() {
  return {
    'wasi:random/random': { getRandomBytes: bytes, getRandomU64: u64 },
    'wasi:random/insecure': { getInsecureRandomBytes: bytes, getInsecureRandomU64: u64 },
    'wasi:random/insecure-seed': { insecureSeed: (): [bigint, bigint] => [u64(), u64()] },
  };
}
