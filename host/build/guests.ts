/**
 * Where guest module sources and built components live, and which folders
 * under a guest root are module folders: c.ts keeps those holding `*.c`
 * files, js.ts those with an entry file and no C sources.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../wit/index.js';

/** Guest module sources, and the components built from them. */
export const GUEST_MODULES_DIR = join(packageRoot(), 'guest-modules');
export const GUEST_DIST_DIR = join(GUEST_MODULES_DIR, 'dist');

/** Folders under a guest root that are not modules (hostile/ is a corpus of its own). */
const NOT_MODULES = new Set(['sdk', 'dist', 'node_modules', 'hostile']);

/** The folders under `root` that may hold a module, sorted. */
export function guestFolders(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.') && !NOT_MODULES.has(d.name))
    .map((d) => join(root, d.name))
    .sort();
}
