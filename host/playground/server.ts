/**
 * The playground's web server: 127.0.0.1 only, one random token in the one
 * URL (`http://127.0.0.1:PORT/TOKEN/`), 403 for anything else. The page's
 * files come from dist/playground (built by `npm run build`); its API runs
 * stacks from the editor's text through the real engine. Nothing is
 * written to disk except by a save the user asks for (and libpam's
 * temporary config dir while comparing).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PamwasmError, UsageError } from '../errors/index.js';
import { packageRoot } from '../wit/index.js';
import { LibpamComparer } from './compare.js';
import { PlaygroundApi } from './api.js';

/** No request leaves the machine: everything comes from this server, nothing inline. */
export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
  + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE_FILES: Record<string, string> = {
  '': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};
const MAX_BODY = 1024 * 1024;

export interface PlaygroundOptions {
  /** The stack file to open (read-only when it is a native pam.d file). */
  file?: string;
  port?: number;
  moduleDir?: string;
}

const isLoopback = (address: string | undefined) =>
  address !== undefined && (/^127\./.test(address) || address === '::1' || /^::ffff:127\./.test(address));

/** Whether a request may be served: from loopback, to this server's own host name, carrying the token. */
export function requestAllowed(req: { remote?: string; host?: string; path: string }, token: string, port: number): string | undefined {
  if (!isLoopback(req.remote)) return undefined;
  if (req.host !== `127.0.0.1:${port}` && req.host !== `localhost:${port}`) return undefined; // DNS rebinding
  const m = /^\/([A-Za-z0-9_-]+)\/(.*)$/.exec(req.path);
  if (!m) return undefined;
  const given = Buffer.from(m[1]);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want) ? m[2] : undefined;
}

export class Playground {
  readonly url: string;
  private readonly server: Server;
  private readonly comparer: LibpamComparer;

  private constructor(server: Server, url: string, comparer: LibpamComparer) {
    this.server = server;
    this.url = url;
    this.comparer = comparer;
  }

  /** Starts serving; resolves once listening on 127.0.0.1. */
  static async start(options: PlaygroundOptions = {}): Promise<Playground> {
    const pageDir = join(packageRoot(), 'dist', 'playground');
    const page = Object.fromEntries(Object.keys(PAGE_FILES).map((name) => {
      try {
        return [name, readFileSync(join(pageDir, name || 'index.html'))];
      } catch {
        throw new UsageError(`the playground page is not built (${pageDir} has no ${name || 'index.html'}): run \`npm run build\`.`);
      }
    }));
    const token = randomBytes(24).toString('base64url');
    const comparer = new LibpamComparer();
    const api = new PlaygroundApi({ file: options.file, moduleDir: options.moduleDir, comparer, save: (path, text) => writeFileSync(path, text) });
    let port = 0;
    const server = createServer((req, res) => {
      void handle(req, res).catch((e) => send(res, 500, { error: { message: String((e as Error).message) } }));
    });
    const handle = async (req: IncomingMessage, res: ServerResponse) => {
      const rest = requestAllowed({ remote: req.socket.remoteAddress, host: req.headers.host, path: (req.url ?? '').split('?')[0] }, token, port);
      if (rest === undefined) return send(res, 403, 'forbidden\n');
      if (req.method === 'GET' && Object.hasOwn(PAGE_FILES, rest)) {
        return send(res, 200, page[rest], PAGE_FILES[rest]);
      }
      if (req.method === 'POST' && rest.startsWith('api/')) {
        if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return send(res, 415, { error: { code: 'ERR_PAMWASM_USAGE', message: 'send JSON.' } });
        try {
          return send(res, 200, await api.call(rest.slice(4), await readBody(req)));
        } catch (e) {
          if (e instanceof PamwasmError) return send(res, 400, { error: { code: e.code, message: e.message } });
          throw e;
        }
      }
      return send(res, 404, 'not found\n');
    };
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    port = (server.address() as AddressInfo).port;
    return new Playground(server, `http://127.0.0.1:${port}/${token}/`, comparer);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.comparer.close();
  }
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new UsageError('the request is larger than 1 MiB.');
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new UsageError('the request is not JSON.');
  }
}

function send(res: ServerResponse, status: number, body: unknown, type?: string): void {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, {
    'content-type': type ?? (typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json'),
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    'cross-origin-resource-policy': 'same-origin',
  });
  res.end(bytes);
}
