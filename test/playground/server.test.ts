/**
 * The playground's server as a client that is not the page sees it: the
 * token, loopback only, the CSP, and files written only on Save.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Playground, requestAllowed } from '../../host/playground/server.js';

let dir: string;
let file: string;
let pg: Playground;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pamwasm-playground-server-'));
  file = join(dir, 'a.stack');
  writeFileSync(file, 'session required pam_permit.wasm\n');
  pg = await Playground.start({ file });
});
afterAll(async () => {
  await pg?.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(path: string, o: { method?: string; body?: unknown; host?: string; base?: string } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const url = new URL(o.base ?? pg.url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: url.port, path, method: o.method ?? 'GET',
      headers: { ...(o.body ? { 'content-type': 'application/json' } : {}), ...(o.host ? { host: o.host } : {}) },
    }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(o.body ? JSON.stringify(o.body) : undefined);
  });
}

const tokenPath = () => new URL(pg.url).pathname;

describe('the playground server', () => {
  it('prints one URL on 127.0.0.1 with a random token, and serves the page there under a strict CSP', async () => {
    expect(pg.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{32}\/$/);
    const r = await get(tokenPath());
    expect(r.status).toBe(200);
    expect(r.body).toContain('<title>pamwasm playground</title>');
    expect(r.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(r.headers['content-security-policy']).toMatch(/connect-src 'self'/);
    expect(r.headers['referrer-policy']).toBe('no-referrer');
    // The page names no other origin.
    for (const f of ['', 'app.js', 'app.css']) expect((await get(tokenPath() + f)).body).not.toMatch(/(?:src|href)=["']?https?:/);
  });

  it('refuses a request without the token, with a wrong one, or for another host name', async () => {
    expect((await get('/')).status).toBe(403);
    expect((await get('/app.js')).status).toBe(403);
    expect((await get(`/${'A'.repeat(32)}/`)).status).toBe(403);
    expect((await get(`${tokenPath()}api/state`, { method: 'POST', body: {}, host: 'evil.example:80' })).status).toBe(403);
    expect((await get(`${tokenPath()}api/state`, { method: 'POST', body: {} })).status).toBe(200);
  });

  it('refuses a request from a non-loopback address', async () => {
    const port = Number(new URL(pg.url).port);
    const token = tokenPath().slice(1, -1);
    expect(requestAllowed({ remote: '127.0.0.1', host: `127.0.0.1:${port}`, path: `/${token}/` }, token, port)).toBe('');
    expect(requestAllowed({ remote: '192.0.2.7', host: `127.0.0.1:${port}`, path: `/${token}/` }, token, port)).toBeUndefined();
    expect(requestAllowed({ remote: '::ffff:10.1.2.3', host: `127.0.0.1:${port}`, path: `/${token}/` }, token, port)).toBeUndefined();
    // And the socket itself is not reachable on the machine's other addresses.
    const others = Object.values(networkInterfaces()).flat().filter((a) => a && !a.internal && a.family === 'IPv4').map((a) => a!.address);
    for (const address of others) {
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect({ host: address, port }, () => { s.destroy(); resolve(false); });
        s.on('error', () => resolve(true));
      });
      expect(refused, address).toBe(true);
    }
  });

  it('writes the stack file only when asked to save', async () => {
    const before = statSync(file).mtimeMs;
    const text = 'session required pam_permit.wasm\nsession optional pam_echo.wasm [hi %u]\n';
    for (const call of ['model', 'run', 'outcomes', 'compare']) {
      const r = await get(`${tokenPath()}api/${call}`, { method: 'POST', body: { text, items: { service: 'login', user: 'alice' } } });
      expect(r.status, `${call}: ${r.body}`).toBe(200);
    }
    expect(readFileSync(file, 'utf8')).toBe('session required pam_permit.wasm\n');
    expect(statSync(file).mtimeMs).toBe(before);
    const saved = await get(`${tokenPath()}api/save`, { method: 'POST', body: { text } });
    expect(JSON.parse(saved.body)).toEqual({ saved: file });
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('never saves a system pam.d file, nor changes its text', async () => {
    const sys = await Playground.start({ file: '/etc/pam.d/sshd' });
    try {
      const path = new URL(sys.url).pathname;
      const post = (name: string, body: unknown) => get(path + name, { method: 'POST', body, base: sys.url });
      const state = JSON.parse((await post('api/state', {})).body);
      expect(state).toMatchObject({ saveable: false, editable: false });
      const save = await post('api/save', { text: state.text });
      expect(save.status).toBe(400);
      expect(JSON.parse(save.body).error.code).toBe('ERR_PAMWASM_USAGE');
      expect((await post('api/model', { text: `${state.text}session required pam_permit.so\n` })).status).toBe(400);
    } finally {
      await sys.close();
    }
  });
});
