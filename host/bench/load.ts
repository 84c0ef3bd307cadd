/**
 * Loading: the first load of a module in a fresh process (cold), with and
 * without the loader's disk cache of prepared components, and a new instance
 * of a module this process already loaded (warm).
 *
 * Cold is read, check the world, transpile (jco), meter, compile and
 * instantiate, timed inside a new node process from the loadComponent call
 * to the first instance (the host's own code is already imported). With the
 * disk cache, the checked, transpiled and metered output comes from a cache
 * dir that an earlier process filled; V8 has no disk cache of compiled
 * wasm, so compiling is in both figures.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildJsModule, GUEST_MODULES_DIR, JS_CACHE_DIR } from '../build/js.js';
import { loadComponent } from '../loader/index.js';
import { hostImports, newLineContext } from '../runtime/index.js';
import { InstanceMeter, PAGE } from '../sandbox/index.js';
import { BUNDLED_MODULE_DIR, SANDBOX_DEFAULTS } from '../stack/index.js';
import { newHandle, type BenchContext } from './fixtures.js';
import { median, runChild, timeSync } from './measure.js';

export const C_MODULE = join(BUNDLED_MODULE_DIR, 'pam_permit.wasm');
const JS_NAME = 'pam_setenv';

export async function loadGroup(ctx: BenchContext): Promise<void> {
  const { results, quick } = ctx;
  const js = await jsModule(ctx);
  const cacheDir = join(ctx.dir.dir, 'component-cache');
  const runs = quick ? { c: 1, js: 1 } : { c: 5, js: 3 };
  for (const [name, path, n] of [['c', C_MODULE, runs.c], ['js', js, runs.js]] as const) {
    ctx.progress(`cold: ${name} module, no disk cache (${n} processes)`);
    results[`cold.${name}_ms`] = await coldMs(path, undefined, n);
    ctx.progress(`cold: ${name} module, from the disk cache (${n} processes)`);
    await coldMs(path, cacheDir, 1); // fills the cache
    results[`cold.${name}_cached_ms`] = await coldMs(path, cacheDir, n);
  }

  ctx.progress('warm: new instance of a loaded C module');
  const loaded = await loadComponent(C_MODULE, { meter: { maxMemoryPages: SANDBOX_DEFAULTS.memoryBytes / PAGE }, engine: ctx.engine });
  const line = newLineContext({ module: 'pam_permit.wasm', handle: newHandle() });
  results['warm_instantiate.c_ms'] = timeSync(() => {
    const meter = new InstanceMeter(ctx.engine);
    meter.arm(SANDBOX_DEFAULTS.timeoutMs);
    loaded.instantiate(hostImports(line), meter.instantiateCore);
  }, quick ? { batch: 10, batches: 9 } : { batch: 20, batches: 31 }) / 1000;
}

async function coldMs(path: string, cacheDir: string | undefined, n: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await runChild<{ ms: number }>('cold', { path, cacheDir }, { timeoutMs: 120_000 });
    if (!r.result) throw new Error(`a cold load of ${path} failed (exit ${r.status ?? r.signal}): ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
    ms.push(r.result.ms);
  }
  return median(ms);
}

/** The bundled JS module; built (through the JS build cache) when `build:guests` has not run. */
async function jsModule(ctx: BenchContext): Promise<string> {
  const bundled = join(BUNDLED_MODULE_DIR, `${JS_NAME}.wasm`);
  if (existsSync(bundled)) return bundled;
  const out = join(ctx.dir.dir, `${JS_NAME}.wasm`);
  ctx.progress(`${JS_NAME}.wasm is not built: building it (about 15 s; \`npm run build:guests\` keeps it)`);
  await buildJsModule(join(GUEST_MODULES_DIR, JS_NAME), out, { cacheDir: JS_CACHE_DIR, onProgress: (m) => ctx.progress(m) });
  return out;
}
