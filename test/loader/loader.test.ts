import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '@bytecodealliance/jco-glue/component';
import { loadComponent } from '../../host/loader/index.js';
import { transpileComponent } from '../../host/loader/transpile.js';
import { packageRoot, witSource, WORLD_NAME } from '../../host/wit/index.js';
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
    await expectCode(loadComponent(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), 'ERR_PAMWASM_MALFORMED_WASM', /not a WebAssembly binary/);
  });

  it('rejects a truncated component as malformed', async () => {
    const c = await componentFromWit(witSource(), WORLD_NAME);
    await expectCode(loadComponent(c.subarray(0, Math.floor(c.length / 2))), 'ERR_PAMWASM_MALFORMED_WASM', /not a valid component/);
  });

  it('rejects a core module and says it is not a component', async () => {
    const core = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    await expectCode(loadComponent(core), 'ERR_PAMWASM_NOT_A_COMPONENT', /core WebAssembly module, not a component/);
  });

  it('rejects a component of another world', async () => {
    const c = await componentFromWit('package other:thing; world w { export run: func() -> u32; }', 'w');
    await expectCode(loadComponent(c), 'ERR_PAMWASM_WRONG_WORLD', /does not export open-session and close-session/);
  });

  it('rejects hooks with the wrong types even when the names match', async () => {
    const c = await componentFromWit(
      'package other:thing; world w { export open-session: func(argv: list<string>) -> u32; export close-session: func(argv: list<string>) -> u32; }',
      'w',
    );
    await expectCode(loadComponent(c), 'ERR_PAMWASM_WRONG_WORLD', /exports open-session with the wrong type/);
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
    await expectCode(loadComponent(c), 'ERR_PAMWASM_FORBIDDEN_IMPORT', /imports wasi:filesystem\/types.*outside the session-module world/);
  });

  it('says which file is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pamwasm-'));
    try {
      await expectCode(loadComponent(join(dir, 'nope.wasm')), 'ERR_PAMWASM_MODULE_NOT_FOUND', /nope\.wasm does not exist/);
      writeFileSync(join(dir, 'text.wasm'), 'session required pam_permit.so\n');
      await expectCode(loadComponent(join(dir, 'text.wasm')), 'ERR_PAMWASM_MALFORMED_WASM', /text\.wasm is not a WebAssembly binary/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the loader's glue", () => {
  const guest = (path: string) => new Uint8Array(readFileSync(join(packageRoot(), 'guest-modules', path)));

  // pam_echo: three core modules; wasi_fs: WASI resources; pam_setenv: a
  // 12 MB componentize-js guest (its whole-component generate takes seconds).
  it.each(['dist/pam_echo.wasm', 'hostile/dist/wasi_fs.wasm', 'dist/pam_setenv.wasm'])(
    'is what jco generates from the whole component, though made from its skeleton: %s',
    async (path) => {
      const bytes = guest(path);
      const whole = await generate(bytes, { name: 'module', instantiation: { tag: 'sync' } });
      const t = await transpileComponent(bytes, path);
      expect(t.imports).toEqual(whole.imports);
      expect(t.exports).toEqual(whole.exports);
      expect([...t.files.keys(), ...t.cores.keys()].sort()).toEqual(whole.files.map(([f]) => f).sort());
      for (const [file, data] of whole.files) {
        const ours = file.endsWith('.wasm') ? t.cores.get(file)! : new TextEncoder().encode(t.files.get(file));
        expect(Buffer.from(ours).equals(data), file).toBe(true);
      }
    },
  );

  it('gives each instance its own core instances and memories', async () => {
    const m = await loadComponent(guest('dist/pam_permit.wasm'));
    const made: WebAssembly.Instance[][] = [[], []];
    const insts = made.map((list) => m.instantiate({}, (module, imports) => {
      const i = new WebAssembly.Instance(module, imports);
      list.push(i);
      return i;
    }));
    const memories = (list: WebAssembly.Instance[]) => list.flatMap((i) => Object.values(i.exports).filter((e) => e instanceof WebAssembly.Memory));
    expect(made[0].length).toBeGreaterThan(0);
    expect(made[0].some((i) => made[1].includes(i))).toBe(false);
    expect(memories(made[0]).length).toBeGreaterThan(0);
    expect(memories(made[0]).some((mem) => memories(made[1]).includes(mem))).toBe(false);
    expect(insts.map((i) => i.closeSession({}, []))).toEqual(['success', 'success']);
  });
});
