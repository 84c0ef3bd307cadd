/**
 * The WASI sandbox (host/sandbox/policy/wasi): a real C module built against
 * wasi-libc and the preview1 adapter reads files through the host's
 * read-only wasi:filesystem, and cannot reach past its grants.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCModule } from '../../host/build/c.js';
import { loadComponent } from '../../host/loader/index.js';
import { hostImports, newHandleState, newLineContext, type ConvMessage } from '../../host/runtime/index.js';
import { wasiImports, type Grants, type WasiSandbox } from '../../host/sandbox/index.js';
import { runStack } from '../../host/stack/index.js';
import { openBeneath } from '../../host/sandbox/policy/wasi/paths.js';
import { packageRoot, WORLD_NAME } from '../../host/wit/index.js';
import { componentFromWit, sessionWitWith } from '../support/components.js';

const GUEST = join(packageRoot(), 'guest-modules', 'hostile', 'reads_files');

/**
 * Builds reads_files with the C builder: its build.json asks for WASI, so
 * its preview1 imports are kept and the adapter turns them into WASI 0.2
 * imports. `defines` picks the variant.
 */
function buildReadsFiles(work: string, defines: string[]): Promise<Uint8Array> {
  return buildCModule(GUEST, join(work, 'built', `reads_files${defines.join('')}.wasm`), { defines });
}

let work: string;
/** The granted directory, and things beside it that must stay out of reach. */
let grant: string;
let secret: string;
/** reads_files built without and with its clock and random actions. */
let files: Uint8Array;
let timed: Uint8Array;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'pamwasm-wasi-'));
  grant = join(work, 'granted');
  secret = join(work, 'secret');
  mkdirSync(join(grant, 'sub'), { recursive: true });
  writeFileSync(join(grant, 'motd'), 'Welcome to the sandbox\nsecond line\n');
  writeFileSync(join(grant, 'sub', 'inner'), 'inner line\n');
  writeFileSync(secret, 'TOP SECRET\n');
  symlinkSync('../secret', join(grant, 'relative-out'));
  symlinkSync(secret, join(grant, 'absolute-out'));
  symlinkSync('sub/inner', join(grant, 'inside-link'));
  symlinkSync(work, join(grant, 'dir-out'));
  [files, timed] = await Promise.all([buildReadsFiles(work, []), buildReadsFiles(work, ['READS_FILES_CLOCKS_RANDOM'])]);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run { status: string; messages: ConvMessage[] }

/** Loads `bytes` with the grants' allow list and runs open-session with `argv`, as a stack line would. */
async function openSession(bytes: Uint8Array, grants: Grants, argv: string[]): Promise<Run> {
  const wasi = wasiImports(grants);
  const mod = await loadComponent(bytes, { allowImports: wasi.allowed });
  const ctx = newLineContext({ module: 'reads_files', handle: newHandleState({ user: 'alice' }) });
  try {
    const inst = mod.instantiate({ ...hostImports(ctx), ...wasi.imports });
    return { status: inst.openSession({}, argv), messages: ctx.messages };
  } finally {
    wasi.close();
  }
}

const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e) => e as { code: string; imports: string[]; message: string });

describe('a module with a read grant', () => {
  it('reads a file in the granted directory, and leaves no file open', async () => {
    // A first session loads the component: jco's generator, loaded then, keeps
    // a worker thread (and its descriptors) for the rest of the process.
    await openSession(files, { read: [grant] }, [join(grant, 'motd')]);
    const before = readdirSync('/proc/self/fd').length;
    const r = await openSession(files, { read: [grant] }, [join(grant, 'motd')]);
    expect(r).toEqual({ status: 'success', messages: [{ style: 'info', text: 'Welcome to the sandbox' }] });
    expect(readdirSync('/proc/self/fd').length).toBe(before);
  });

  it('follows `..` and symlinks that stay inside the grant', async () => {
    expect((await openSession(files, { read: [grant] }, [`${grant}/sub/../sub/./inner`])).messages)
      .toEqual([{ style: 'info', text: 'inner line' }]);
    expect((await openSession(files, { read: [grant] }, [join(grant, 'inside-link')])).messages)
      .toEqual([{ style: 'info', text: 'inner line' }]);
  });

  it('lists the granted directory', async () => {
    const r = await openSession(files, { read: [grant] }, [`list=${grant}`]);
    expect(r.messages).toEqual([{ style: 'info', text: 'absolute-out dir-out inside-link motd relative-out sub' }]);
  });

  it('cannot read /etc/shadow or /etc/passwd, which are not granted', async () => {
    for (const path of ['/etc/shadow', '/etc/passwd']) {
      const r = await openSession(files, { read: [grant] }, [path]);
      expect(r.status).toBe('system-err');
      expect(r.messages).toEqual([{ style: 'error', text: expect.stringMatching(new RegExp(`^${path}: `)) }]);
    }
  });

  it('cannot climb out of the grant with ..', async () => {
    const r = await openSession(files, { read: [grant] }, [`${grant}/../secret`]);
    expect(r).toEqual({ status: 'system-err', messages: [{ style: 'error', text: `${grant}/../secret: Operation not permitted` }] });
  });

  it('cannot follow a symlink inside the grant that points outside', async () => {
    for (const link of ['relative-out', 'absolute-out']) {
      const r = await openSession(files, { read: [grant] }, [join(grant, link)]);
      expect(r).toEqual({ status: 'system-err', messages: [{ style: 'error', text: `${join(grant, link)}: Operation not permitted` }] });
    }
  });

  it('cannot create or overwrite a file in the grant', async () => {
    for (const name of ['new-file', 'motd']) {
      const r = await openSession(files, { read: [grant] }, [`write=${join(grant, name)}`]);
      expect(r).toEqual({ status: 'system-err', messages: [{ style: 'error', text: `${join(grant, name)}: Read-only file system` }] });
    }
    expect(existsSync(join(grant, 'new-file'))).toBe(false);
    expect(readFileSync(join(grant, 'motd'), 'utf8')).toBe('Welcome to the sandbox\nsecond line\n');
  });

  it('sees only the granted directory, not its parent', async () => {
    const r = await openSession(files, { read: [join(grant, 'sub')] }, [join(grant, 'motd')]);
    expect(r.status).toBe('system-err');
    expect((await openSession(files, { read: [join(grant, 'sub')] }, [join(grant, 'sub', 'inner')])).messages)
      .toEqual([{ style: 'info', text: 'inner line' }]);
  });
});

describe('loading a module that imports WASI', () => {
  it('is refused without a grant, naming the file system imports', async () => {
    const err = await refusal(loadComponent(files, { allowImports: wasiImports({}).allowed }));
    expect(err?.code).toBe('ERR_PAMWASM_FORBIDDEN_IMPORT');
    expect(err?.imports.map((i) => i.replace(/@.*/, '')).sort()).toEqual(['wasi:filesystem/preopens', 'wasi:filesystem/types']);
  });

  it('is refused with no allow list at all', async () => {
    expect((await refusal(loadComponent(files)))?.code).toBe('ERR_PAMWASM_FORBIDDEN_IMPORT');
  });

  it('is refused without the clocks and random grants when it imports them', async () => {
    const noClocks = await refusal(loadComponent(timed, { allowImports: wasiImports({ read: [grant] }).allowed }));
    expect(noClocks?.code).toBe('ERR_PAMWASM_FORBIDDEN_IMPORT');
    expect(noClocks?.imports.map((i) => i.replace(/@.*/, '')).sort())
      .toEqual(['wasi:clocks/monotonic-clock', 'wasi:clocks/wall-clock', 'wasi:random/random']);
    const noRandom = await refusal(loadComponent(timed, { allowImports: wasiImports({ read: [grant], clocks: true }).allowed }));
    expect(noRandom?.imports.map((i) => i.replace(/@.*/, ''))).toEqual(['wasi:random/random']);
  });

  it('reads the clocks and random numbers with those grants', async () => {
    const grants = { read: [grant], clocks: true, random: true };
    const time = await openSession(timed, grants, ['time']);
    expect(time.status).toBe('success');
    const [, seconds, order] = /^time (\d+) (\w+)$/.exec(time.messages[0].text)!;
    expect(Math.abs(Number(seconds) - Date.now() / 1000)).toBeLessThan(5);
    expect(order).toBe('monotonic');
    expect(await openSession(timed, grants, ['random'])).toEqual({ status: 'success', messages: [{ style: 'info', text: 'random ok' }] });
    expect((await openSession(timed, grants, [join(grant, 'motd')])).messages).toEqual([{ style: 'info', text: 'Welcome to the sandbox' }]);
  });
});

describe('the grants', () => {
  it('never allow sockets or http', async () => {
    const allowed = wasiImports({ read: [grant], clocks: true, random: true }).allowed;
    expect(allowed.filter((i) => /^wasi:(sockets|http)\//.test(i))).toEqual([]);
    const net = await componentFromWit(sessionWitWith(`
      world hostile-net { include ${WORLD_NAME}; import wasi:sockets/tcp@0.2.0; }
      package wasi:sockets@0.2.0 { interface tcp { connect: func(host: string, port: u16) -> bool; } }`), 'hostile-net');
    const err = await refusal(loadComponent(net, { allowImports: allowed }));
    expect(err?.code).toBe('ERR_PAMWASM_FORBIDDEN_IMPORT');
    expect(err?.imports.map((i) => i.replace(/@.*/, ''))).toEqual(['wasi:sockets/tcp']);
  });

  it('allow only inert interfaces by default', () => {
    expect(wasiImports({}).allowed.every((i) => /^wasi:(io|cli)\//.test(i))).toBe(true);
    expect(Object.keys(wasiImports({}).imports).every((i) => /^wasi:(io|cli)\//.test(i))).toBe(true);
  });

  it('reject a read grant that is relative, missing or not a directory, and unknown grants', () => {
    for (const bad of [{ read: ['etc'] }, { read: [join(work, 'nope')] }, { read: [secret] }, { write: [grant] }]) {
      expect(() => wasiImports(bad as Grants)).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_USAGE' }));
    }
  });
});

/** The host side called directly, as a guest that skips wasi-libc's own checks could. */
describe('the read-only file system, called directly', () => {
  type Fn = (...args: unknown[]) => any;
  const iface = (wasi: WasiSandbox, name: string) => wasi.imports[name] as unknown as Record<string, Fn>;
  const preopen = (wasi: WasiSandbox) => iface(wasi, 'wasi:filesystem/preopens').getDirectories()[0][0];
  const failsWith = (fn: () => unknown, payload: unknown) => expect(fn).toThrow(expect.objectContaining({ payload }));
  const READ = { read: true };
  const FOLLOW = { symlinkFollow: true };
  let wasi: WasiSandbox;
  let root: any;

  beforeAll(() => {
    wasi = wasiImports({ read: [grant] });
    root = preopen(wasi);
  });
  afterAll(() => wasi.close());

  it('names each preopen by its host path', () => {
    expect(iface(wasi, 'wasi:filesystem/preopens').getDirectories().map(([, name]: [unknown, string]) => name)).toEqual([grant]);
  });

  it('refuses absolute paths and `..` above the descriptor with not-permitted', () => {
    for (const path of [secret, '/etc/shadow', '../secret', 'sub/../../secret', '..']) {
      failsWith(() => root.openAt(FOLLOW, path, {}, READ), 'not-permitted');
    }
    const sub = root.openAt({}, 'sub', { directory: true }, READ);
    failsWith(() => sub.openAt({}, '../motd', {}, READ), 'not-permitted');
    expect(new TextDecoder().decode(sub.openAt({}, 'inner', {}, READ).read(100n, 0n)[0])).toBe('inner line\n');
  });

  it('refuses symlinks that lead outside, followed or not', () => {
    for (const link of ['relative-out', 'absolute-out', 'dir-out/secret']) failsWith(() => root.openAt(FOLLOW, link, {}, READ), 'not-permitted');
    failsWith(() => root.statAt(FOLLOW, 'absolute-out'), 'not-permitted');
    failsWith(() => root.metadataHashAt(FOLLOW, 'relative-out'), 'not-permitted');
    // Not followed, a symlink is itself: stat-at shows the link, open-at gives `loop` (O_NOFOLLOW).
    expect(root.statAt({}, 'absolute-out').type).toBe('symbolic-link');
    failsWith(() => root.openAt({}, 'absolute-out', {}, READ), 'loop');
    expect(root.readlinkAt('relative-out')).toBe('../secret');
  });

  it('catches a path swapped for an outside symlink after the walk, on the opened file itself', () => {
    // As if `dir-out` had been a directory when resolved and a symlink by the open.
    failsWith(() => openBeneath(grant, ['dir-out', 'secret'], false), 'not-permitted');
  });

  it('refuses every open for writing and every mutating call with read-only', () => {
    for (const [open, flags] of [[{ create: true }, READ], [{ truncate: true }, READ], [{ exclusive: true }, READ], [{}, { write: true }], [{}, { mutateDirectory: true }]]) {
      failsWith(() => root.openAt({}, 'motd', open, flags), 'read-only');
    }
    const motd = root.openAt({}, 'motd', {}, READ);
    const calls: [string, unknown[]][] = [
      ['write', [new Uint8Array([1]), 0n]], ['writeViaStream', [0n]], ['appendViaStream', []], ['setSize', [0n]],
      ['setTimes', [{ tag: 'now' }, { tag: 'now' }]],
    ];
    for (const [fn, args] of calls) failsWith(() => motd[fn](...args), 'read-only');
    const atCalls: [string, unknown[]][] = [
      ['createDirectoryAt', ['d']], ['unlinkFileAt', ['motd']], ['removeDirectoryAt', ['sub']], ['symlinkAt', ['motd', 'l']],
      ['renameAt', ['motd', root, 'x']], ['linkAt', [{}, 'motd', root, 'x']], ['setTimesAt', [{}, 'motd', { tag: 'now' }, { tag: 'now' }]],
    ];
    for (const [fn, args] of atCalls) failsWith(() => root[fn](...args), 'read-only');
    expect(readdirSync(grant).sort()).toEqual(['absolute-out', 'dir-out', 'inside-link', 'motd', 'relative-out', 'sub']);
  });

  it('closes a file when its descriptor and its streams are all dropped', () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    const motd = root.openAt({}, 'motd', {}, READ);
    const stream = motd.readViaStream(0n);
    expect(fds()).toBe(before + 1);
    stream[Symbol.dispose]();
    expect(new TextDecoder().decode(motd.read(7n, 0n)[0])).toBe('Welcome');
    motd[Symbol.dispose]();
    expect(fds()).toBe(before);
  });

  it('reads through a stream that outlives its descriptor, and close() releases every file', () => {
    const own = wasiImports({ read: [grant] });
    const motd = preopen(own).openAt({}, 'motd', {}, READ);
    expect(motd.getType()).toBe('regular-file');
    expect(motd.stat().size).toBe(35n);
    expect(motd.metadataHash()).toEqual(preopen(own).metadataHashAt({}, 'motd'));
    const stream = motd.readViaStream(8n);
    motd[Symbol.dispose]();
    expect(new TextDecoder().decode(stream.blockingRead(14n))).toBe('to the sandbox');
    own.close();
    expect(() => stream.blockingRead(1n)).toThrow(expect.objectContaining({ payload: expect.objectContaining({ tag: 'last-operation-failed' }) }));
    failsWith(() => preopen(own), 'bad-descriptor');
  });
});

describe('the inert WASI interfaces', () => {
  it('give no environment, arguments, stdin or terminal', () => {
    const { imports } = wasiImports({});
    const cli = (name: string) => imports[`wasi:cli/${name}`] as unknown as Record<string, () => any>;
    expect(cli('environment').getEnvironment()).toEqual([]);
    expect(cli('environment').getArguments()).toEqual([]);
    expect(cli('environment').initialCwd()).toBeUndefined();
    expect(() => cli('stdin').getStdin().blockingRead(10n)).toThrow(expect.objectContaining({ payload: { tag: 'closed' } }));
    expect(cli('terminal-stdout').getTerminalStdout()).toBeUndefined();
  });

  it('forward stdout and stderr to onOutput up to the limit, and drop them by default', () => {
    const seen: string[] = [];
    const { imports } = wasiImports({}, { outputLimit: 8, onOutput: (s, b) => seen.push(`${s}:${Buffer.from(b)}`) });
    const out = (imports['wasi:cli/stdout'] as unknown as { getStdout(): any }).getStdout();
    const err = (imports['wasi:cli/stderr'] as unknown as { getStderr(): any }).getStderr();
    out.blockingWriteAndFlush(new TextEncoder().encode('hello'));
    err.blockingWriteAndFlush(new TextEncoder().encode('world!'));
    out.blockingWriteAndFlush(new TextEncoder().encode('more'));
    expect(seen).toEqual(['stdout:hello', 'stderr:wor']);
    const quiet = (wasiImports({}).imports['wasi:cli/stdout'] as unknown as { getStdout(): any }).getStdout();
    expect(() => quiet.blockingWriteAndFlush(new Uint8Array(10))).not.toThrow();
  });

  it('trap on exit instead of ending the host', () => {
    const { exit } = wasiImports({}).imports['wasi:cli/exit'] as unknown as { exit(s: unknown): void };
    expect(() => exit({ tag: 'err' })).toThrow(WebAssembly.RuntimeError);
  });
});

describe('grants written in a stack line', () => {
  it('give a module read access with read=DIR, metered, and nothing without it', async () => {
    const mod = join(work, 'reads_files.wasm');
    writeFileSync(mod, files);
    const stack = join(work, 'grants.stack');
    writeFileSync(stack, [
      `session optional [${mod}] ${join(grant, 'motd')}`,
      `session required [${mod} read=${grant} timeout=2s memory=8MiB] ${join(grant, 'motd')}`,
      `session optional [${mod} read=${grant}] /etc/shadow`,
    ].join('\n') + '\n');
    const r = await runStack({ stackFile: stack, items: { service: 'login', user: 'alice' }, phase: 'open', strictPermissions: false });
    // Line 1 has no grant: the loader refuses the module (PAM_MODULE_UNKNOWN).
    expect(r.trace.map((t) => [t.line, t.name])).toEqual([[1, 'PAM_MODULE_UNKNOWN'], [2, 'PAM_SUCCESS'], [3, 'PAM_SYSTEM_ERR']]);
    expect(r.diagnostics[0].message).toMatch(/imports wasi:filesystem\/preopens, wasi:filesystem\/types, outside the session-module world/);
    expect(r.messages[0]).toEqual({ style: 'info', text: 'Welcome to the sandbox' });
    expect(r.messages[1].text).toMatch(/^\/etc\/shadow: /);
    expect(r.open?.name).toBe('PAM_SUCCESS');
  });
});
