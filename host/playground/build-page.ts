/**
 * Builds the playground page into dist/playground: esbuild bundles the
 * page's script with its one library (dagre, the graph layout); the HTML and
 * CSS are copied. `npm run build` runs it; the built page ships in the package.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { packageRoot } from '../wit/index.js';

const root = packageRoot();
const source = join(root, 'host', 'playground', 'page');
const out = join(root, 'dist', 'playground');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(source, 'main.ts')], outfile: join(out, 'app.js'),
  bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: true, legalComments: 'linked', logLevel: 'warning',
});
for (const f of ['index.html', 'app.css']) copyFileSync(join(source, f), join(out, f));
