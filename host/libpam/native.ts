/**
 * The synchronous side of the bridge: runs libpam calls for the requests of
 * protocol.ts, inside a helper process or thread (server.ts).
 *
 * libpam is synchronous: a module calls the conversation function and waits
 * for its return. The `converse` function given here blocks the helper until
 * the host has answered, which is what lets the host answer with an async
 * handler (an SSH client, a web form) while its own event loop keeps running.
 */
import { PAM } from '../codes/index.js';
import { NoConfdirError, UsageError } from '../errors/index.js';
import { MESSAGE_STYLES, PAM_DATA_SILENT, PAM_MAX_NUM_MSG, isPrompt } from './constants.js';
import {
  type Libpam, type Ptr, cString, decodeMessages, liveCallbacks, pamResponseSize, pointerAt, storePointer, storeResponse,
} from './ffi.js';
import type { CodeReply, ConvAnswers, ConvMessage, HelperStats, Request } from './protocol.js';

interface Native {
  pamh: bigint;
  /** The registered conversation callback: it lives as long as the handle. */
  callback: bigint;
  /** The last code libpam returned, pam_end's default status (pam_end(3)). */
  last: number;
}

export class NativePam {
  private readonly handles = new Map<number, Native>();
  private nextHid = 1;
  private readonly messages = new Map<number, string>();

  constructor(private readonly pam: Libpam, private readonly converse: (messages: ConvMessage[]) => ConvAnswers) {}

  /** Runs one request; returns its JSON-able result or throws a PamwasmError. */
  run(req: Request): unknown {
    switch (req.op) {
      case 'start': return this.start(req.service, req.user, req.confdir, req.items);
      case 'strerror': return this.strerror(req.code);
      case 'stats': return this.stats();
      default: break;
    }
    const h = this.handles.get(req.hid);
    if (!h) throw new UsageError(`no open PAM handle #${req.hid} in this helper (pam_end already ran?)`);
    switch (req.op) {
      case 'set_item': return this.reply(h, this.pam.pam_set_item(h.pamh, req.item, req.value));
      case 'get_item': return this.getItem(h, req.item);
      case 'dispatch': return this.reply(h, this.pam[`pam_${req.fn}`](h.pamh, req.flags));
      case 'getenv': return this.pam.pam_getenv(h.pamh, req.name);
      case 'putenv': return this.reply(h, this.pam.pam_putenv(h.pamh, req.nameValue));
      case 'getenvlist': return this.getenvlist(h);
      case 'end': return this.end(req.hid, h, req.status, req.dataSilent);
    }
  }

  private start(service: string, user: string | null, confdir: string | null, items: [number, string | null][]) {
    if (confdir !== null && !this.pam.pam_start_confdir) {
      throw new NoConfdirError(
        `${this.pam.path} has no pam_start_confdir (Linux-PAM < 1.4.0), so a config dir (${confdir}) cannot be used: ` +
        'upgrade Linux-PAM, or leave out `confdir` to use /etc/pam.d');
    }
    const callback = this.pam.registerConv((n, msg, resp) => this.conversation(n, msg, resp));
    // libpam copies the pam_conv struct (pam_start.c), so a temporary is fine;
    // appdata_ptr is unused: each handle has its own registered callback.
    const conv = { conv: callback, appdata_ptr: null };
    const out: Ptr[] = [null];
    const code = confdir === null
      ? this.pam.pam_start(service, user, conv, out)
      : this.pam.pam_start_confdir!(service, user, conv, confdir, out);
    if (code !== PAM.SUCCESS.number || out[0] === null) {
      // On failure libpam has freed the handle and set *pamh to NULL.
      this.pam.unregisterConv(callback);
      return { hid: null, code, message: this.strerror(code) };
    }
    const h: Native = { pamh: out[0], callback, last: code };
    const hid = this.nextHid++;
    this.handles.set(hid, h);
    for (const [item, value] of items) {
      const r = this.reply(h, this.pam.pam_set_item(h.pamh, item, value));
      if (r.code !== PAM.SUCCESS.number) {
        this.end(hid, h, r.code, false);
        return { hid: null, ...r, item };
      }
    }
    return { hid, code, message: this.strerror(code) };
  }

  /** pam_end for every handle still open, as an application does before it exits. */
  endAll(): void {
    for (const [hid, h] of this.handles) this.end(hid, h, null, true);
  }

  private end(hid: number, h: Native, status: number | null, dataSilent: boolean): CodeReply {
    const code = this.pam.pam_end(h.pamh, (status ?? h.last) | (dataSilent ? PAM_DATA_SILENT : 0));
    // After pam_end no module can reach the conversation any more.
    this.pam.unregisterConv(h.callback);
    this.handles.delete(hid);
    return { code, message: this.strerror(code) };
  }

  private getItem(h: Native, item: number): CodeReply & { value: string | null } {
    const out: Ptr[] = [null];
    const r = this.reply(h, this.pam.pam_get_item(h.pamh, item, out));
    return { ...r, value: r.code === PAM.SUCCESS.number && out[0] !== null ? cString(out[0]) : null };
  }

  private getenvlist(h: Native): string[] | null {
    const list = this.pam.pam_getenvlist(h.pamh);
    if (list === null) return null;
    // pam_getenvlist(3): the application owns the copy and must free() each
    // string and the array.
    const out: string[] = [];
    for (let i = 0; ; i++) {
      const p = pointerAt(list, i);
      if (p === null) break;
      out.push(cString(p));
      this.pam.free(p);
    }
    this.pam.free(list);
    return out;
  }

  private reply(h: Native, code: number): CodeReply {
    h.last = code;
    return { code, message: this.strerror(code) };
  }

  /** pam_strerror's text; Linux-PAM ignores the handle, so NULL is fine. */
  strerror(code: number): string {
    let m = this.messages.get(code);
    if (m === undefined) {
      m = this.pam.pam_strerror(null, code) ?? `unknown PAM error ${code}`;
      this.messages.set(code, m);
    }
    return m;
  }

  private stats(): HelperStats {
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, handles: this.handles.size, callbacks: liveCallbacks() };
  }

  /**
   * The conversation function libpam calls (pam_conv(3)). Any failure,
   * including an exception here (koffi would turn it into 0, PAM_SUCCESS),
   * becomes PAM_CONV_ERR with *resp untouched.
   */
  private conversation(n: number, msg: bigint, resp: bigint): number {
    try {
      if (n <= 0 || n > PAM_MAX_NUM_MSG) return PAM.CONV_ERR.number;
      const raw = decodeMessages(msg, n);
      const messages: ConvMessage[] = [];
      for (const m of raw) {
        const style = (MESSAGE_STYLES as Record<number, ConvMessage['style']>)[m.style];
        if (!style) return PAM.CONV_ERR.number;
        messages.push({ style, text: m.text });
      }
      const answers = this.converse(messages);
      if (!Array.isArray(answers) || answers.length !== n) return PAM.CONV_ERR.number;
      for (let i = 0; i < n; i++) {
        const a = answers[i];
        if (isPrompt(messages[i].style) ? typeof a !== 'string' || a.includes('\0') : a !== null) {
          return PAM.CONV_ERR.number;
        }
      }
      return this.storeAnswers(answers, resp);
    } catch {
      return PAM.CONV_ERR.number;
    }
  }

  /**
   * Builds the pam_response array with libc's allocator: libpam and the
   * modules free() it and each `resp` (_pam_drop_reply), so koffi-owned
   * memory would crash them.
   */
  private storeAnswers(answers: (string | null)[], resp: bigint): number {
    const array = this.pam.calloc(answers.length, pamResponseSize());
    if (array === null) return PAM.BUF_ERR.number;
    const dups: bigint[] = [];
    for (let i = 0; i < answers.length; i++) {
      const a = answers[i];
      if (a === null) continue;
      const p = this.pam.strdup(a);
      if (p === null) {
        for (const d of dups) this.pam.free(d);
        this.pam.free(array);
        return PAM.BUF_ERR.number;
      }
      dups.push(p);
      storeResponse(array, i, p);
    }
    storePointer(resp, array);
    return PAM.SUCCESS.number;
  }
}
