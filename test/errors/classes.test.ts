/**
 * The typed errors hold across copies of their classes: the package's
 * modules and the bundled `pamwasm exec` script each evaluate
 * host/errors/index.ts, so an error thrown by one copy must still be an
 * instance of the other copy's classes, matched by brand and code, and of
 * nothing else.
 */
import { describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import * as here from '../../host/errors/index.js';

/** A second, separately evaluated copy of host/errors/index.ts. */
async function secondCopy(): Promise<typeof here> {
  vi.resetModules();
  const copy = await import('../../host/errors/index.js');
  expect(copy.PamwasmError).not.toBe(here.PamwasmError);
  return copy;
}

describe('typed errors', () => {
  it('are instances of their class and of PamwasmError in another copy of the classes', async () => {
    const other = await secondCopy();
    const e = new other.ModuleNotFoundError('module x.wasm does not exist.');
    expect(e instanceof here.ModuleNotFoundError).toBe(true);
    expect(e instanceof here.PamwasmError).toBe(true);
    expect(e instanceof Error).toBe(true);
    const back = new here.StackSyntaxError('a.stack', 3, 'bad');
    expect(back instanceof other.StackSyntaxError).toBe(true);
    expect(back instanceof other.PamwasmError).toBe(true);
  });

  it('are not instances of another subclass, in either copy', async () => {
    const other = await secondCopy();
    const e = new other.UsageError('no');
    expect(e instanceof here.MalformedModuleError).toBe(false);
    expect(e instanceof other.MalformedModuleError).toBe(false);
    expect(new here.PamError('pam_open_session', 6, 'PAM_PERM_DENIED', 'Permission denied') instanceof here.PamHelperCrashedError).toBe(false);
  });

  it('leave a subclass declared elsewhere without a code of its own to its prototype', () => {
    class AppError extends here.UsageError {}
    expect(new AppError('x') instanceof AppError).toBe(true);
    expect(new AppError('x') instanceof here.UsageError).toBe(true);
    expect(new here.UsageError('x') instanceof AppError).toBe(false);
  });

  it('are an instance of a subclass only when that subclass made them, with its fields', () => {
    const bare = new here.PamwasmError('ERR_PAMWASM_PAM', 'pam_open_session failed');
    expect(bare instanceof here.PamwasmError).toBe(true);
    expect(bare instanceof here.PamError).toBe(false);
  });

  it('are told from look-alikes: a plain error or object with the same code is no PamwasmError', () => {
    const plain = Object.assign(new Error('x'), { code: 'ERR_PAMWASM_USAGE' });
    expect(plain instanceof here.PamwasmError).toBe(false);
    expect(plain instanceof here.UsageError).toBe(false);
    expect({ code: 'ERR_PAMWASM_USAGE', message: 'x' } instanceof here.UsageError).toBe(false);
    expect((null as unknown) instanceof here.PamwasmError).toBe(false);
    expect((undefined as unknown) instanceof here.PamwasmError).toBe(false);
  });

  it('have one class a code, and every code is a listed ERR_PAMWASM_ code', () => {
    const classes = Object.values(here).filter((v): v is typeof here.PamwasmError => typeof v === 'function' && v.prototype instanceof Error && v !== here.PamwasmError);
    const codes = classes.map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect([...codes].sort()).toEqual([...here.ERROR_CODES].sort());
    for (const c of classes) {
      expect(here.isPamwasmErrorCode(c.code)).toBe(true);
      expect(c.code).toMatch(/^ERR_PAMWASM_[A-Z_]+$/);
    }
  });

  it('keep apart from Node\'s own codes: a missing package\'s error is no PamwasmError, and its code none of ours', async () => {
    // Node's error itself, from a real failed import in a child process.
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', "import('pamwasm-no-such-package').catch((e) => console.log(e.code))"], { encoding: 'utf8', cwd: tmpdir() });
    const nodeCode = r.stdout.trim();
    expect(nodeCode).toMatch(/^ERR_[A-Z_]+$/);
    expect(here.isPamwasmErrorCode(nodeCode)).toBe(false);
    const nodeError = await import('pamwasm-no-such-package' as string).catch((e: unknown) => e);
    expect(nodeError instanceof here.PamwasmError).toBe(false);
  });

  it('carry their class name and code, as the CLI prints them', () => {
    const e = new here.MissingDependencyError('esbuild is missing', ['esbuild'], 'npm install esbuild');
    expect([e.name, e.code, e.packages, e.install]).toEqual(['MissingDependencyError', 'ERR_PAMWASM_MISSING_DEPENDENCY', ['esbuild'], 'npm install esbuild']);
  });
});
