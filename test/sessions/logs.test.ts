/**
 * Module syslog lines are kept by default and can be redirected: each
 * record says which session, service, user and stack line wrote it, in the
 * host API, in `pamwasm recover` (the close-time audit line of a session
 * whose host died) and in `pamwasm exec`, whose own diagnostics can go to
 * syslog instead of the user's screen.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createHost, logSink, type LogRecord } from '../../host/index.js';
import { HOST_DIST, NODE, pamwasm, Scratch } from './support.js';

const dir = new Scratch();
afterAll(() => dir.cleanup());

const stack = dir.write('warn.stack', 'session optional pam_warn.wasm\nsession required pam_permit.wasm\n');

describe('the host API', () => {
  it('gives each module log record its session id, service, user and stack line', async () => {
    const records: LogRecord[] = [];
    const host = await createHost({ registry: ':memory:', log: (r) => records.push(r) });
    try {
      const s = await host.openSession({ stack, service: 'login', user: 'alice', tty: 'pts/1' });
      expect(s.opened).toBe(true);
      await s.close();
      expect(records).toHaveLength(2);
      for (const r of records) {
        expect(r).toMatchObject({ module: 'pam_warn.wasm', line: `${stack}:1`, service: 'login', user: 'alice', session: s.id });
      }
    } finally {
      await host.shutdown();
    }
  });

  it('does not fail, nor write to the application\'s streams, where no syslog daemon listens', () => {
    // A child process, so that the default sink (libc's syslog) is exercised for real.
    const script = dir.write('default-log.mjs', `
      import { createHost } from ${JSON.stringify(HOST_DIST)};
      const host = await createHost({ registry: ':memory:' });
      const s = await host.openSession({ stack: ${JSON.stringify(stack)}, service: 'login', user: 'alice' });
      const c = await s.close();
      await host.shutdown();
      process.stdout.write(JSON.stringify({ open: s.name, close: c.name }));
    `);
    const r = spawnSync(NODE, [script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ open: 'PAM_SUCCESS', close: 'PAM_SUCCESS' });
    // Lines went to syslog, not to the application's own streams.
    expect(r.stderr).toBe('');
  });

  it('writes module lines to the system log (/dev/log) by default, at authpriv, with session, service, user and stack line', () => {
    // The child runs in a mount namespace of its own whose /dev is a fresh
    // tmpfs, with a datagram socket at /dev/log that a small listener reads:
    // the real syslog(3) path, without touching the machine's /dev.
    const out = `${dir.path}/syslog.txt`;
    // Written as is: Scratch.write would strip Python's indentation.
    const listener = `${dir.path}/listen.py`;
    writeFileSync(listener, [
      'import socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind("/dev/log")',
      'open(sys.argv[1] + ".ready", "w").close()',
      's.settimeout(30)',
      'with open(sys.argv[1], "w") as f:',
      '    for _ in range(2):',
      '        f.write(s.recv(65536).decode("utf8", "replace") + "\\n"); f.flush()',
    ].join('\n'));
    const script = dir.write('syslog-host.mjs', `
      import { createHost } from ${JSON.stringify(HOST_DIST)};
      const host = await createHost({ registry: ':memory:' });
      const s = await host.openSession({ stack: ${JSON.stringify(stack)}, service: 'login', user: 'alice' });
      await s.close();
      await host.shutdown();
      process.stdout.write(s.id);
    `);
    const sh = dir.write('in-namespace.sh', [
      'set -e',
      'mount -t tmpfs tmpfs /dev',
      'mknod -m 666 /dev/null c 1 3',
      `python3 ${listener} ${out} &`,
      `while [ ! -e ${out}.ready ]; do sleep 0.05; done`,
      `${NODE} ${script}`,
      'wait',
    ].join('\n'));
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', sh], { encoding: 'utf8', timeout: 90_000 });
    expect(r.status, `unshare (needs root) ran the host: ${r.stderr}`).toBe(0);
    const id = r.stdout.trim();
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const [i, hook] of ['open', 'close'].entries()) {
      // <85>: LOG_AUTHPRIV (10 << 3) | LOG_NOTICE (5), as pam_warn logs.
      expect(lines[i]).toMatch(new RegExp(`^<85>.* pamwasm\\[\\d+\\]: pam_warn\\.wasm \\[${stack.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:1\\] service=login user=alice session=${id}: function=\\[pam_sm_${hook}_session\\]`));
    }
  });

  it('refuses a log option that is not a sink, naming the choices', () => {
    expect(() => logSink('journal' as never)).toThrow(expect.objectContaining({ code: 'ERR_PAMWASM_USAGE', message: expect.stringMatching(/syslog, stderr, none/) }));
  });
});

describe('pamwasm recover', () => {
  it('writes the close-time line of a recovered session with its id, user and stack line where --log says', async () => {
    const registry = `${dir.path}/recover.db`;
    // A host that opens a session and exits without closing it, as a crashed one would leave it.
    const script = dir.write('leave-open.mjs', `
      import { createHost } from ${JSON.stringify(HOST_DIST)};
      const host = await createHost({ registry: ${JSON.stringify(registry)}, log: 'none' });
      const s = await host.openSession({ stack: ${JSON.stringify(stack)}, service: 'login', user: 'bob', tty: 'pts/2' });
      process.stdout.write(s.id);
      process.exit(0);
    `);
    const opened = spawnSync(NODE, [script], { encoding: 'utf8', timeout: 60_000 });
    expect(opened.status, opened.stderr).toBe(0);
    const id = opened.stdout.trim();
    const r = pamwasm(['recover', '--registry', registry, '--log', 'stderr', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`notice: pam_warn\\.wasm \\[${stack.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:1\\] service=login user=bob session=${id}: function=\\[pam_sm_close_session\\]`));
  });
});

describe('pamwasm exec\'s own diagnostics', () => {
  const env = () => ({ PAM_TYPE: 'close_session', PAM_SERVICE: 'login', PAM_USER: 'carol', PAM_TTY: 'pts/9' });

  it('says its own warnings on stderr by default, and not there with --diagnostics syslog', () => {
    const registry = `${dir.path}/exec.db`;
    // A close with no open session in the registry: exec warns that it closes on fresh instances.
    const shown = pamwasm(['exec', '--stack', stack, '--registry', registry, '--no-cache'], env());
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stderr).toMatch(/pamwasm exec: no open session of carol on pts\/9/);
    const quiet = pamwasm(['exec', '--stack', stack, '--registry', registry, '--no-cache', '--diagnostics', 'syslog'], env());
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toBe('');
  });

  it('skips a shared cache folder such as /tmp without advising to remove it', () => {
    const r = pamwasm(['exec', '--stack', stack, '--registry', `${dir.path}/cache.db`, '--cache-dir', '/tmp'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/not using the component cache \/tmp: .*; point the cache at a folder used for nothing else/);
    expect(r.stderr).not.toMatch(/remove/);
  });

  it('suggests the option a mistyped one was meant to be', () => {
    const r = pamwasm(['exec', '--stak', stack], env());
    expect(r.code).toBe(64);
    expect(r.stderr).toBe('pamwasm exec: unknown option --stak (did you mean --stack?); see the options with --help.\n');
  });

  it('refuses another --diagnostics value with the usage exit status', () => {
    const r = pamwasm(['exec', '--stack', stack, '--diagnostics', 'screen'], env());
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/--diagnostics must be syslog or stdout, not "screen"/);
  });
});
