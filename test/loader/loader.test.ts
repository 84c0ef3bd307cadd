import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadComponent } from '../../host/loader/index.js';
import { witSource, WORLD_NAME } from '../../host/wit/index.js';
import { componentFromWit, sessionWitWith } from '../support/components.js';

const expectCode = async (p: Promise<unknown>, code: string, message: RegExp) => {
  const err = await p.then(() => undefined, (e) => e);
  expect(err, 'expected the load to fail').toBeDefined();
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
};

describe('the loader', () => {
  it('accepts a component that targets the session-module world', async () => {
    const c = await componentFromWit(witSource(), WORLD_NAME);
    const m = await loadComponent(c);
    expect(m.exports.sort()).toEqual(['close-session', 'open-session']);
    expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects random bytes as malformed', async () => {
    await expectCode(loadComponent(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), 'ERR_MALFORMED_WASM', /not a WebAssembly binary/);
  });

  it('rejects a truncated component as malformed', async () => {
    const c = await componentFromWit(witSource(), WORLD_NAME);
    await expectCode(loadComponent(c.subarray(0, Math.floor(c.length / 2))), 'ERR_MALFORMED_WASM', /not a valid component/);
  });

  it('rejects a core module and says it is not a component', async () => {
    const core = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    await expectCode(loadComponent(core), 'ERR_NOT_A_COMPONENT', /core WebAssembly module, not a component/);
  });

  it('rejects a component of another world', async () => {
    const c = await componentFromWit('package other:thing; world w { export run: func() -> u32; }', 'w');
    await expectCode(loadComponent(c), 'ERR_WRONG_WORLD', /does not export open-session and close-session/);
  });

  it('rejects hooks with the wrong types even when the names match', async () => {
    const c = await componentFromWit(
      'package other:thing; world w { export open-session: func(argv: list<string>) -> u32; export close-session: func(argv: list<string>) -> u32; }',
      'w',
    );
    await expectCode(loadComponent(c), 'ERR_WRONG_WORLD', /exports open-session with the wrong type/);
  });

  it('rejects a component that imports WASI and names the import', async () => {
    const wit = sessionWitWith(`
      world with-wasi {
        import wasi:filesystem/types@0.2.0;
        use types.{status, session-flags};
        export open-session: func(%flags: session-flags, argv: list<string>) -> status;
        export close-session: func(%flags: session-flags, argv: list<string>) -> status;
      }
      package wasi:filesystem@0.2.0 { interface types { read-via-stream: func(offset: u64) -> u32; } }`);
    const c = await componentFromWit(wit, 'with-wasi');
    await expectCode(loadComponent(c), 'ERR_FORBIDDEN_IMPORT', /imports wasi:filesystem\/types.*outside the session-module world/);
  });

  it('says which file is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pamwasm-'));
    try {
      await expectCode(loadComponent(join(dir, 'nope.wasm')), 'ERR_MODULE_NOT_FOUND', /nope\.wasm does not exist/);
      writeFileSync(join(dir, 'text.wasm'), 'session required pam_permit.so\n');
      await expectCode(loadComponent(join(dir, 'text.wasm')), 'ERR_MALFORMED_WASM', /text\.wasm is not a WebAssembly binary/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
