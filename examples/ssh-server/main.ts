/**
 * `npm run example:ssh`: writes the demo configuration (demo-config.ts),
 * makes sure the JS guest pam_setenv.wasm is built, and runs the SSH server
 * until SIGINT or SIGTERM, closing every open session on the way out.
 *
 *   node dist/examples/ssh-server/main.js [--port 2222] [--listen 127.0.0.1]
 *       [--state-dir .cache/ssh-example] [--password pamwasm] [--module-dir DIR]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildJsModules, GUEST_DIST_DIR } from '../../host/build/js.js';
import { packageRoot } from '../../host/wit/index.js';
import { DEMO_PASSWORD, writeDemoConfig } from './demo-config.js';
import { startSshServer } from './server.js';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '2222' },
    listen: { type: 'string', default: '127.0.0.1' },
    'state-dir': { type: 'string', default: join(packageRoot(), '.cache', 'ssh-example') },
    password: { type: 'string', default: DEMO_PASSWORD },
    'module-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log('usage: npm run example:ssh -- [--port N (0: any free)] [--listen ADDR] [--state-dir DIR] [--password PW] [--module-dir DIR]');
  process.exit(0);
}

const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`);

// The stack's modules come from the bundled guest-modules/dist unless --module-dir names another folder.
if (!args['module-dir'] && !existsSync(join(GUEST_DIST_DIR, 'pam_setenv.wasm'))) {
  log('building the JS guest modules (pam_setenv.wasm, about 15 s the first time)...');
  await buildJsModules(GUEST_DIST_DIR, { onProgress: log });
}

const cfg = writeDemoConfig(resolve(args['state-dir']), { password: args.password });
const server = await startSshServer({
  hostKey: readFileSync(cfg.hostKey),
  listen: args.listen,
  port: Number(args.port),
  pam: { service: cfg.service, confdir: cfg.confdir },
  stack: cfg.stack,
  registry: cfg.registry,
  moduleDir: args['module-dir'] && resolve(args['module-dir']),
  log,
});

// A known_hosts line, so a client can check the host key instead of trusting it blindly.
const knownHosts = join(cfg.dir, 'known_hosts');
const hostName = server.port === 22 ? server.address : `[${server.address}]:${server.port}`;
writeFileSync(knownHosts, `${hostName} ${readFileSync(`${cfg.hostKey}.pub`, 'utf8').trim()}\n`);

console.log(`pamwasm SSH example listening on ${server.address}:${server.port}`);
console.log(`  any user name, password '${args.password}'; configuration in ${cfg.dir}`);
console.log(`  ssh -p ${server.port} -o UserKnownHostsFile=${knownHosts} alice@${server.address} 'echo $GREETING'`);
console.log(`  session open/close log: ${cfg.sessionLog}`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log(`${signal}: closing ${server.activeLogins} running login(s)`);
  await server.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
