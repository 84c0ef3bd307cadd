/**
 * Test support for the libpam bridge: temp config dirs (never /etc/pam.d) and
 * tiny native modules built with gcc from fixtures/.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PamMode } from '../../host/libpam/index.js';

export const MODES: PamMode[] = ['helper', 'in-process'];

export const SECURITY_DIR = '/lib/x86_64-linux-gnu/security';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** A temp dir for one test file; `cleanup()` removes it. */
export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'pamwasm-libpam-'));

  /** Writes a file and returns its absolute path. */
  write(name: string, text: string, mode = 0o644): string {
    const file = join(this.path, name);
    writeFileSync(file, text, { mode });
    return file;
  }

  /** Writes a PAM service file (pam.d syntax) into this dir, which is then a confdir. */
  service(name: string, config: string): string {
    return this.write(name, config.replace(/^\s+/gm, ''));
  }

  /** Builds fixtures/<name>.c into <dir>/<name>.so with gcc and returns the path. */
  build(name: string, extra: string[] = ['-lpam']): string {
    const out = join(this.path, `${name}.so`);
    execFileSync('gcc', ['-shared', '-fPIC', '-O0', '-o', out, join(FIXTURES, `${name}.c`), ...extra]);
    return out;
  }

  cleanup(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** Records every conversation message and answers prompts from a list. */
export function recordingConversation(answers: string[] = []) {
  const log: string[] = [];
  let next = 0;
  const conversation = async (messages: readonly { style: string; text: string }[]) =>
    messages.map((m) => {
      log.push(`${m.style}:${m.text}`);
      return m.style.startsWith('prompt') || m.style === 'radio' ? answers[next++] ?? '' : null;
    });
  return { log, conversation };
}
