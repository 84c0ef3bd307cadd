/**
 * `pamwasm install` / `pamwasm uninstall`: see host/daemon/install.ts.
 */
import { parseArgs } from 'node:util';
import { install, uninstall } from '../daemon/install.js';

export const INSTALL_HELP = `Usage: pamwasm install [--root DIR] [--pam-dir DIR]
       pamwasm uninstall [--root DIR]

install lays down what pam_wasm.so needs, as root: the module in the PAM
module folder (where pam_permit.so is), the systemd units pamwasm.socket and
pamwasm.service, /etc/pamwasm/ and the pamwasm system user. It enables
nothing: run \`systemctl enable --now pamwasm.socket\`, then add pam_wasm.so
lines to /etc/pam.d (docs/daemon.md). uninstall stops and disables the units
and removes exactly what install made (listed in /etc/pamwasm/.installed);
stacks you wrote stay.

Options:
  --root DIR     install under DIR instead of / (a package build)
  --pam-dir DIR  the PAM module folder (default: the one holding pam_permit.so)`;

function run(argv: string[], f: typeof install): number {
  const { values } = parseArgs({ args: argv, options: { root: { type: 'string' }, 'pam-dir': { type: 'string' }, help: { type: 'boolean' } }, strict: true });
  if (values.help) {
    console.log(INSTALL_HELP);
    return 0;
  }
  f({ root: values.root, pamDir: values['pam-dir'], say: (l) => console.log(l) });
  return 0;
}

export const installCommand = async (argv: string[]): Promise<number> => run(argv, install);
export const uninstallCommand = async (argv: string[]): Promise<number> => run(argv, uninstall);
