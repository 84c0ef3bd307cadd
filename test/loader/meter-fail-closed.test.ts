/**
 * The originals are validated before they are metered, so a metered module
 * that V8 refuses is the meter's bug: the load fails closed with a typed
 * error, and never falls back to running the original unmetered. The meter
 * is replaced here by one that spoils its output.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { BUNDLED_MODULE_DIR } from '../../host/stack/index.js';

describe('a meter that makes an invalid module of a valid one', () => {
  it('fails the load closed with ERR_PAMWASM_UNSUPPORTED_WASM on both paths; unmetered loads are not affected', async () => {
    // Test files share a process: this test imports a loader of its own, made
    // with the spoiling meter, and leaves the module registry as it found it.
    vi.doMock('../../host/sandbox/instrument/meter.js', async (original) => {
      const real = await original<typeof import('../../host/sandbox/instrument/meter.js')>();
      return {
        ...real,
        meterCoreModule: (bytes: Uint8Array, options: Parameters<typeof real.meterCoreModule>[1]) => {
          const result = real.meterCoreModule(bytes, options);
          // A second type section after the others: out of order, so V8 refuses the module.
          return { ...result, bytes: Uint8Array.from([...result.bytes, 0x01, 0x01, 0x00]) };
        },
      };
    });
    vi.resetModules();
    try {
      const { loadComponent } = await import('../../host/loader/index.js');
      const bytes = new Uint8Array(readFileSync(join(BUNDLED_MODULE_DIR, 'pam_permit.wasm')));
      for (const fastPath of [true, false]) {
        const e = await loadComponent(bytes, { meter: { maxMemoryPages: 16 }, fastPath }).then(() => undefined, (x: { code: string }) => x);
        expect(e?.code, `fastPath ${fastPath}`).toBe('ERR_PAMWASM_UNSUPPORTED_WASM');
      }
      await expect(loadComponent(bytes, {})).resolves.toBeDefined();
    } finally {
      vi.doUnmock('../../host/sandbox/instrument/meter.js');
      vi.resetModules();
    }
  });
});
