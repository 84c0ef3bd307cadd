/**
 * Test support for C guests: builds modules with the real C builder (into a
 * temp dir) and runs them under a plain JS host that records every call.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCModule, type CBuildOptions } from '../../host/build/c.js';
import { loadComponent, type ImportObject, type ModuleInstance } from '../../host/loader/index.js';
import { packageRoot } from '../../host/wit/index.js';

export const GUESTS = join(packageRoot(), 'guest-modules');
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export type ItemName = 'service' | 'user' | 'tty' | 'rhost' | 'ruser' | 'user-prompt' | 'xdisplay';

/** Builds C module folders into a temp dir once; `remove()` cleans up. */
export class CBuilds {
  private dir?: Promise<string>;
  private built = new Map<string, Promise<Uint8Array>>();

  /** The component bytes of `folder` (a path), built on first use (with `opts` then). */
  bytes(folder: string, opts: CBuildOptions = {}): Promise<Uint8Array> {
    let b = this.built.get(folder);
    if (!b) {
      this.dir ??= mkdtemp(join(tmpdir(), 'pamwasm-c-test-'));
      b = this.dir.then((d) => buildCModule(folder, join(d, `${this.built.size}.wasm`), opts));
      this.built.set(folder, b);
    }
    return b;
  }

  /** A fresh instance of `folder`'s module wired to `host`. */
  async instance(folder: string, host: FakeHost, opts: CBuildOptions = {}): Promise<ModuleInstance> {
    const loaded = await loadComponent(await this.bytes(folder, opts));
    return loaded.instantiate(host.imports);
  }

  async remove(): Promise<void> {
    if (this.dir) await rm(await this.dir, { recursive: true, force: true });
  }
}

/** A PAM handle as the guest sees it: state in, recorded calls out. */
export interface FakeHost {
  items: Partial<Record<ItemName, string>>;
  env: Map<string, string>;
  data: Map<string, Uint8Array>;
  /** Answers for prompts, in order; a prompt with none left fails with conv-err. */
  answers: string[];
  /** What info and error return (default success). */
  convStatus: string;
  /** 'info: text', 'error: text', 'prompt-echo-on: text', 'prompt-echo-off: text'. */
  messages: string[];
  /** 'notice: text'. */
  logs: string[];
  /** Items in the order they were read. */
  itemReads: string[];
  imports: ImportObject;
}

export function fakeHost(init: Partial<Pick<FakeHost, 'items' | 'env' | 'data' | 'answers' | 'convStatus'>> = {}): FakeHost {
  const h: FakeHost = {
    items: { service: 'sshd', user: 'alice', tty: 'pts/0', rhost: 'client.example', ruser: 'bob' },
    env: new Map(),
    data: new Map(),
    answers: [],
    convStatus: 'success',
    messages: [],
    logs: [],
    itemReads: [],
    imports: {},
    ...init,
  };
  const ifaces = {
    items: {
      getItem: (which: ItemName) => { h.itemReads.push(which); return h.items[which]; },
    },
    env: {
      getEnv: (name: string) => h.env.get(name),
      // pam_putenv(3): NAME=value sets, NAME deletes (bad-item if unset).
      putEnv: (nameValue: string) => {
        const eq = nameValue.indexOf('=');
        const name = eq < 0 ? nameValue : nameValue.slice(0, eq);
        if (!name) return 'perm-denied';
        if (eq < 0) return h.env.delete(name) ? 'success' : 'bad-item';
        h.env.set(name, nameValue.slice(eq + 1));
        return 'success';
      },
      listEnv: () => [...h.env].map(([k, v]) => `${k}=${v}`),
    },
    data: {
      setData: (name: string, value: Uint8Array) => { h.data.set(name, new Uint8Array(value)); return 'success'; },
      getData: (name: string) => h.data.get(name),
      deleteData: (name: string) => (h.data.delete(name) ? 'success' : 'no-module-data'),
    },
    log: {
      syslog: (level: string, message: string) => { h.logs.push(`${level}: ${message}`); },
    },
    conversation: {
      info: (text: string) => { h.messages.push(`info: ${text}`); return h.convStatus; },
      error: (text: string) => { h.messages.push(`error: ${text}`); return h.convStatus; },
      prompt: (style: string, text: string) => {
        h.messages.push(`prompt-${style}: ${text}`);
        const answer = h.answers.shift();
        // jco maps a thrown value to the result's error case.
        if (answer === undefined) throw 'conv-err';
        return answer;
      },
    },
  };
  // jco's glue asks for unversioned names; the versioned ones are given too, as a host would.
  for (const [name, impl] of Object.entries(ifaces)) {
    h.imports[`pamwasm:session/${name}`] = impl as ImportObject[string];
    h.imports[`pamwasm:session/${name}@0.1.0`] = impl as ImportObject[string];
  }
  return h;
}
