/**
 * Test support for pam_wasm.so: a temp dir holding the module built from
 * host/pam/, its service files (a confdir for pam_start_confdir) and a fake
 * daemon's socket, and a libpam helper process whose syslog(3) lines are
 * captured to a file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPamModule } from '../../host/build/pam.js';
import { openPamHandle, PamHelper, type Conversation } from '../../host/libpam/index.js';
import { FakeDaemon } from './fake-daemon.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const STACK = '/etc/pamwasm/test.stack';

export class ShimBench {
  readonly dir = mkdtempSync(join(tmpdir(), 'pamwasm-shim-'));
  readonly module = buildPamModule(join(this.dir, 'pam_wasm.so'));
  readonly socket = join(this.dir, 'pamwasm.sock');
  readonly syslogFile = join(this.dir, 'syslog');
  readonly setAuthtok = this.fixture('pam_set_authtok', ['-lpam']);
  private readonly capture = this.fixture('syslog_capture', []);
  daemon!: FakeDaemon;
  helper!: PamHelper;
  private services = 0;

  private fixture(name: string, libs: string[]): string {
    const out = join(this.dir, `${name}.so`);
    execFileSync('gcc', ['-shared', '-fPIC', '-o', out, join(FIXTURES, `${name}.c`), ...libs]);
    return out;
  }

  async start(): Promise<void> {
    this.daemon = await FakeDaemon.start(this.socket);
    // The helper inherits the environment at spawn: preload the capture there only.
    const saved = { LD_PRELOAD: process.env.LD_PRELOAD, PAMWASM_TEST_SYSLOG: process.env.PAMWASM_TEST_SYSLOG };
    process.env.LD_PRELOAD = this.capture;
    process.env.PAMWASM_TEST_SYSLOG = this.syslogFile;
    try {
      this.helper = await PamHelper.start({ mode: 'helper' });
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  }

  /**
   * A service whose session stack is `lines`, with `SHIM` standing for
   * pam_wasm.so and the arguments every test gives it. Returns its name.
   */
  service(lines: string): string {
    const name = `svc${++this.services}`;
    const shim = `${this.module} stack=${STACK} socket=${this.socket} daemon_user=root`;
    writeFileSync(join(this.dir, name), lines.replace(/SHIM/g, shim).replace(/^\s+/gm, ''));
    return name;
  }

  /** Opens a handle on `service` in the shared helper. */
  handle(service: string, o: { conversation?: Conversation; items?: Record<string, string>; user?: string } = {}) {
    return openPamHandle({ service, user: o.user ?? 'alice', confdir: this.dir, helper: this.helper, conversation: o.conversation, items: o.items });
  }

  /** pam_wasm.so's syslog lines since the last call. */
  syslog(): string[] {
    if (!existsSync(this.syslogFile)) return [];
    const lines = readFileSync(this.syslogFile, 'utf8').split('\n').filter((l) => l.includes(' pam_wasm('));
    rmSync(this.syslogFile);
    return lines;
  }

  async cleanup(): Promise<void> {
    await this.helper?.close();
    await this.daemon?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Milliseconds that `fn` took, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}
