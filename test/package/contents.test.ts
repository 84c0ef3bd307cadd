/**
 * What `npm pack` ships and what an install pulls in: the packed file list
 * (built code, the reference world, every bundled module, the SDKs; no
 * hostile corpus, sources maps or examples), every export's target in it,
 * a prepack build free of system packages, runtime dependencies limited to
 * what loading and running need, the builders as optional peers named by
 * an exact install line.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { installLine, optionalPackages } from '../../host/deps/index.js';
import { cGuestFolders } from '../../host/build/c.js';
import { jsGuestFolders } from '../../host/build/js.js';
import { missingToolchain } from '../../host/build/pam.js';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** The files `npm pack` would put in the tarball (built code as it is now: `npm test` builds first). */
function packedFiles(): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
}

describe('the packed package', () => {
  const files = packedFiles();
  const has = (f: string) => files.includes(f);

  it('holds the built host, the exec bundle, the reference world, the WIT and the CLI', () => {
    for (const f of ['bin/pamwasm.js', 'bin/package.json', 'dist/host/index.js', 'dist/host/index.d.ts', 'dist/host/cli/index.js',
      'dist/host/libpam/server.js', 'dist/pamwasm-exec.cjs', 'dist/pamwasm-exec.mjs', 'dist/reference-world.json', 'wit/world.wit', 'README.md', 'package.json',
      'dist/playground/index.html', 'dist/playground/app.js', 'dist/playground/app.css', 'docs/playground.md',
      'examples/first.stack', 'examples/demo.stack', 'docs/systemd/pamwasm-recover.service', 'docs/systemd/pamwasm-recover.timer']) {
      expect(has(f), f).toBe(true);
    }
  });

  it('holds every bundled module, C and JS, and both SDKs', () => {
    for (const dir of [...cGuestFolders(), ...jsGuestFolders()]) {
      const name = dir.split('/').pop()!;
      expect(has(`guest-modules/dist/${name}.wasm`), name).toBe(true);
    }
    expect(has('guest-modules/dist/pam_setenv.wasm')).toBe(true);
    for (const f of readdirSync(join(ROOT, 'guest-modules', 'sdk', 'c', 'include', 'security'))) {
      expect(has(`guest-modules/sdk/c/include/security/${f}`), f).toBe(true);
    }
    for (const f of ['index.ts', 'session.d.ts', 'status.ts', 'substitute.ts']) expect(has(`guest-modules/sdk/js/${f}`), f).toBe(true);
  });

  it('holds pam_wasm.so where gcc and the libpam headers were there to build it, and always its C sources', () => {
    // `pamwasm install` builds the module from these where the tarball has none, or one for another machine.
    for (const f of readdirSync(join(ROOT, 'host', 'pam'))) expect(has(`host/pam/${f}`), f).toBe(true);
    expect(has('dist/pam_wasm.so')).toBe(missingToolchain() === null);
    // `pamwasm bench --group daemon` builds its load generator and its floor server from these.
    expect(has('host/bench/pamload.c')).toBe(true);
    expect(has('host/bench/answerd.c')).toBe(true);
  });

  it('leaves out the hostile corpus, source maps, TypeScript sources, tests and the example programs', () => {
    expect(files.filter((f) => f.startsWith('guest-modules/hostile/'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => /^(host\/(?!pam\/[^/]+\.[ch]$|bench\/(pamload|answerd)\.c$)|test\/|scripts\/|dist\/examples\/)/.test(f))).toEqual([]);
    // The tour's stacks go along; the example programs are TypeScript sources.
    expect(files.filter((f) => f.startsWith('examples/'))).toEqual(['examples/demo.stack', 'examples/first.stack']);
    expect(files.filter((f) => f.includes('node_modules') || f.endsWith('.tsbuildinfo') || f.endsWith('.codecache'))).toEqual([]);
  });

  it('has a file behind every export', () => {
    for (const [name, target] of Object.entries(pkg.exports as Record<string, string | Record<string, string>>)) {
      const paths = typeof target === 'string' ? [target] : Object.values(target);
      for (const p of paths) {
        // A pattern export is checked through one file it must reach.
        const example = name === './wit/*' ? 'world.wit' : 'include/pamwasm.h';
        const file = p.replace(/^\.\//, '').replace('*', example);
        expect(has(file), `${name} -> ${p}`).toBe(true);
      }
    }
    for (const sub of ['.', './stack', './loader', './libpam', './build', './testing', './sdk', './sdk/c/*']) expect(pkg.exports[sub], sub).toBeDefined();
  });
});

describe('package.json', () => {
  it('builds on pack without system packages', () => {
    expect(pkg.scripts.prepack).toMatch(/npm run build/);
    expect(pkg.scripts.prepack).not.toMatch(/apt|system-deps|sudo/);
  });

  it('depends at run time only on what loading and running need, and on the Node types its declarations name', () => {
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['@types/node', 'better-sqlite3', 'koffi']);
    // Any @types/node an app already has for Node 20+ serves: one copy, never two sets of Node's globals.
    expect(pkg.dependencies['@types/node']).toBe('>=20');
    // The SSH example's server library is for the example only.
    expect(pkg.devDependencies.ssh2).toBeDefined();
  });

  it('lists every builder as an optional peer, and names them in an exact install line', () => {
    const optional = [...new Set(Object.values(optionalPackages()).flat())].sort();
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(optional);
    for (const p of optional) {
      expect(pkg.peerDependenciesMeta[p], p).toEqual({ optional: true });
      expect(pkg.devDependencies[p], `${p} is needed to build and test here`).toBe(pkg.peerDependencies[p]);
    }
    expect(installLine(['esbuild', '@bytecodealliance/componentize-js'])).toBe(
      `npm install esbuild@${pkg.peerDependencies.esbuild} @bytecodealliance/componentize-js@${pkg.peerDependencies['@bytecodealliance/componentize-js']}`,
    );
    expect(installLine(['@bytecodealliance/jco-glue'])).toBe('npm install @bytecodealliance/jco-glue@npm:@bytecodealliance/jco@1.11.2');
  });
});
