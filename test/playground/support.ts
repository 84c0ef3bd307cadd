/**
 * The playground under test: `pamwasm playground` as a child process (its
 * one URL read from stdout), and Debian's chromium driven by playwright-core
 * with a new empty profile. No browser is ever downloaded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'pamwasm.js');

export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export interface Served {
  url: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** Starts `pamwasm playground ARGS` and resolves with the URL it prints. */
export function servePlayground(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'playground', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const stop = () => new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]+\/)$/m.exec(out);
      if (m) resolve({ url: m[1], child, stop });
    });
    child.once('exit', (code) => reject(new Error(`playground exited (${code}): ${err}`)));
  });
}

export interface Browser {
  context: BrowserContext;
  close: () => Promise<void>;
}

/** Debian's chromium with a new empty profile (deleted on close). */
export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'pamwasm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1400, height: 1000 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
