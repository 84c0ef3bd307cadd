/**
 * `pamwasm playground [STACK] [--port N]`: serves the policy playground on
 * 127.0.0.1 and prints its one URL (with the token) on stdout; runs until
 * interrupted.
 */
import { parseArgs } from 'node:util';
import { Playground } from '../playground/server.js';
import { usage } from './usage.js';

export const PLAYGROUND_HELP = `Usage: pamwasm playground [STACK] [--port N] [--module-dir DIR]

Serves a local web page to see a stack as a flow, edit it, run it with
"what if" results per line, compare it with the real libpam and list the
outcome of every combination of line results.

  STACK             a stack file to open (a native pam.d file such as
                    /etc/pam.d/sshd opens read-only: its session lines are
                    drawn and run with what-if results only)
  --port N          the port on 127.0.0.1 (default: any free port)
  --module-dir DIR  where relative module paths are found (default: the bundled modules)

Listens on 127.0.0.1 only and prints one URL carrying a random token;
requests without it get 403. The page loads nothing from off the machine,
and files are written only when you press Save. Stop it with Ctrl-C.`;

export async function playgroundCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, 'module-dir': { type: 'string' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(PLAYGROUND_HELP);
    return 0;
  }
  if (positionals.length > 1) throw usage('playground takes one stack file', 'playground');
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usage(`--port must be a port number, not "${values.port}"`, 'playground');
  const playground = await Playground.start({ file: positionals[0], port, moduleDir: values['module-dir'] });
  console.log(playground.url);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await playground.close();
  return 0;
}
