/**
 * docs/install.md and the systemd units it ships stay true: the units pass
 * systemd's own checker, the command they run is one the CLI accepts, and
 * the pam_exec line uses only options exec has.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXEC_HELP } from '../../host/cli/exec.js';
import { packageRoot } from '../../host/wit/index.js';
import { pamwasm, scratch } from '../support/cli.js';

const ROOT = packageRoot();
const UNITS = join(ROOT, 'docs', 'systemd');
const INSTALL = readFileSync(join(ROOT, 'docs', 'install.md'), 'utf8');
const { dir, remove } = scratch('pamwasm-install-');
afterAll(remove);

const execStart = () => /^ExecStart=(\S+) (.*)$/m.exec(readFileSync(join(UNITS, 'pamwasm-recover.service'), 'utf8'))!;

describe('the recover units', () => {
  it('pass systemd-analyze verify, with the command where this checkout has it', () => {
    // The unit names the installed command; verify checks that it exists, so point it here.
    for (const unit of ['pamwasm-recover.service', 'pamwasm-recover.timer']) {
      const text = readFileSync(join(UNITS, unit), 'utf8').replace('/usr/local/bin/pamwasm', join(ROOT, 'bin', 'pamwasm.js'));
      writeFileSync(join(dir, unit), text);
    }
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'pamwasm-recover.service'), join(dir, 'pamwasm-recover.timer')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.error, 'systemd-analyze (apt-get install systemd) checks the units').toBeUndefined();
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('run a recover command the CLI accepts', () => {
    const [, command, args] = execStart();
    expect(command).toBe('/usr/local/bin/pamwasm');
    const r = pamwasm(...args.split(' '), '--registry', join(dir, 'registry.db'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/nothing to recover/);
  });
});

describe('docs/install.md', () => {
  it('gives a pam_exec line whose options exec has', () => {
    const line = /^session required pam_exec\.so stdout (\S+) (\S+) exec (.*)$/m.exec(INSTALL);
    expect(line).not.toBeNull();
    expect(line![1]).toMatch(/^\/.*node$/); // absolute: pam_exec gives no PATH
    for (const option of line![3].match(/--[a-z-]+/g)!) expect(EXEC_HELP, option).toContain(`  ${option} `);
  });

  it('names the unit files it tells to install, which exist', () => {
    for (const [, file] of INSTALL.matchAll(/(docs\/systemd\/\S+\.(?:service|timer))/g)) {
      expect(() => readFileSync(join(ROOT, file))).not.toThrow();
    }
  });
});
