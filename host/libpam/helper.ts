/**
 * A libpam helper as the host sees it: one child process (mode `helper`) or
 * one worker thread (mode `in-process`) that runs libpam calls one at a time
 * for the handles it holds, and forwards their conversations to the host.
 */
import {
  LibpamUnavailableError, NoConfdirError, PamHelperCrashedError, PamwasmError, isPamwasmErrorCode, UsageError,
} from '../errors/index.js';
import { type Channel, type HelperExit, processChannel, threadChannel } from './channel.js';
import { serverEntry } from './entry.js';
import { DEFAULT_LIBPAM } from './ffi.js';
import {
  type ConvAnswers, type ConvMessage, type FromHelper, type HelperInfo, type HelperStats, type Request,
  type WireError, callName,
} from './protocol.js';

/**
 * Where libpam runs.
 * - `helper` (default): a child process per helper. pam_open_session may
 *   change the process's credentials, loginuid or SELinux context, and a
 *   native module may crash: both stay in the helper.
 * - `in-process`: a worker thread of the host process. Cheaper to start, but
 *   a crash in a module ends the host, and credential changes (setuid,
 *   setgroups) apply to the whole host process.
 */
export type PamMode = 'helper' | 'in-process';

export interface PamHelperOptions {
  /** Default `helper`. */
  mode?: PamMode;
  /** The libpam to load, a path or soname. Default `libpam.so.0`. */
  libpam?: string;
  /** What the helper process does with stdout/stderr. Default `inherit`. */
  stdio?: 'inherit' | 'ignore';
}

/** Answers one conversation call; resolves to null for PAM_CONV_ERR. */
export type ConverseFn = (messages: ConvMessage[]) => Promise<ConvAnswers>;

interface Job {
  id: number;
  req: Request;
  converse?: ConverseFn;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * The helper's error as the host's class. A code outside ERROR_CODES (the
 * helper's own failure, `ERR_PAM_HELPER`, a bug rather than a typed host
 * error) stays a plain Error that keeps its code.
 */
function rebuild(e: WireError): Error {
  if (!isPamwasmErrorCode(e.code)) return Object.assign(new Error(e.message), { code: e.code });
  switch (e.code) {
    case 'ERR_PAMWASM_NO_CONFDIR': return new NoConfdirError(e.message);
    case 'ERR_PAMWASM_LIBPAM_UNAVAILABLE': return new LibpamUnavailableError(e.message);
    case 'ERR_PAMWASM_USAGE': return new UsageError(e.message);
    default: return new PamwasmError(e.code, e.message);
  }
}

/**
 * One libpam helper. Share one between many handles to run many short
 * transactions cheaply (calls then run one at a time); give a long session
 * its own (what {@link openPamHandle} does by default).
 *
 * @example
 *   const helper = await PamHelper.start();
 *   for (const user of users) {
 *     const h = await openPamHandle({ service: 'login', user, helper });
 *     await h.openSession(); await h.closeSession(); await h.end();
 *   }
 *   await helper.close();
 */
export class PamHelper {
  readonly mode: PamMode;
  /** Resolves once libpam is loaded in the helper; rejects if it cannot be. */
  readonly ready: Promise<HelperInfo>;
  private readonly channel: Channel;
  private readonly queue: Job[] = [];
  private current: Job | undefined;
  private nextId = 1;
  private dead: Error | undefined;
  private closing = false;
  private info: HelperInfo | undefined;
  private readonly exited: Promise<void>;
  private settleReady!: { resolve(i: HelperInfo): void; reject(e: Error): void };

  /** Starts a helper process (or thread, for `in-process`). */
  static async start(options: PamHelperOptions = {}): Promise<PamHelper> {
    const entry = await serverEntry();
    return new PamHelper(entry, options);
  }

  private constructor(entry: string, options: PamHelperOptions) {
    this.mode = options.mode ?? 'helper';
    if (this.mode !== 'helper' && this.mode !== 'in-process') {
      throw new UsageError(`unknown PAM mode "${String(this.mode)}": use "helper" or "in-process"`);
    }
    const libpam = options.libpam ?? DEFAULT_LIBPAM;
    this.ready = new Promise((resolve, reject) => { this.settleReady = { resolve, reject }; });
    this.ready.catch(() => { /* surfaced through the calls */ });
    let onExit!: () => void;
    this.exited = new Promise((resolve) => { onExit = resolve; });
    const events = {
      message: (msg: FromHelper) => this.onMessage(msg),
      exit: (how: HelperExit) => { this.onExit(how); onExit(); },
    };
    this.channel = this.mode === 'helper'
      ? processChannel(entry, libpam, options.stdio ?? 'inherit', events)
      : threadChannel(entry, libpam, events);
    // Referenced until the helper says hello, so that awaiting `ready` alone
    // keeps the host alive; afterwards only while calls are pending.
  }

  /** The helper's pid (the host's own for `in-process`). */
  get pid(): number { return this.channel.pid; }

  /** True once the helper has died or been closed; calls then reject. */
  get closed(): boolean { return this.dead !== undefined || this.closing; }

  /**
   * @internal Runs one request (PamHandle's methods are the API). Calls on
   * one helper run in order, one at a time; `converse` answers the
   * conversation of this request's modules.
   */
  request<T>(req: Request, converse?: ConverseFn): Promise<T> {
    if (this.dead) return Promise.reject(this.deadError(req));
    if (this.closing) return Promise.reject(new UsageError(`${callName(req)} called on a closed libpam helper`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, req, converse, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  /** pam_strerror's text for a code, from this helper's libpam. */
  strerror(code: number): Promise<string> {
    return this.request<string>({ op: 'strerror', code });
  }

  /** The helper's resident set size, open handles and registered callbacks. */
  stats(): Promise<HelperStats> {
    return this.request<HelperStats>({ op: 'stats' });
  }

  /**
   * Lets queued calls finish, then ends the helper. Handles still open in it
   * get pam_end (with their last status and PAM_DATA_SILENT) first; their
   * sessions are not closed.
   */
  async close(): Promise<void> {
    if (this.dead) return;
    this.closing = true;
    this.pump();
    await this.exited;
  }

  /** Ends the helper at once; pending calls reject. */
  kill(): void {
    this.channel.kill();
  }

  private pump(): void {
    if (this.current || this.dead) return;
    const job = this.queue.shift();
    if (!job) {
      // Closing: hang up and stay referenced until the helper has exited.
      this.channel.setRef(this.closing);
      if (this.closing) this.channel.close();
      return;
    }
    this.current = job;
    this.channel.setRef(true);
    this.channel.send({ t: 'req', id: job.id, req: job.req });
  }

  private onMessage(msg: FromHelper): void {
    switch (msg.t) {
      case 'hello':
        if (msg.info) {
          this.info = msg.info;
          this.settleReady.resolve(msg.info);
          if (!this.current) this.channel.setRef(false);
        } else {
          this.fail(rebuild(msg.error!));
        }
        return;
      case 'res': {
        const job = this.current;
        if (!job || job.id !== msg.id) return;
        this.current = undefined;
        if (msg.error) job.reject(rebuild(msg.error));
        else job.resolve(msg.value);
        this.pump();
        return;
      }
      case 'conv':
        void this.converse(msg.messages);
        return;
    }
  }

  private async converse(messages: ConvMessage[]): Promise<void> {
    const job = this.current;
    let answers: ConvAnswers = null;
    if (job?.converse) {
      try { answers = await job.converse(messages); } catch { answers = null; }
    }
    // The helper blocks until this answer: send it unless the helper died
    // meanwhile (an answer to a dead helper has nowhere to go).
    if (!this.dead && this.current === job) this.channel.send({ t: 'conv', answers });
  }

  private onExit(how: HelperExit): void {
    if (this.dead) return;
    if (this.closing && !this.current && how.signal === null && how.code === 0) {
      this.dead = new UsageError('the libpam helper was closed');
      return;
    }
    const during = this.current ? callName(this.current.req) : 'an idle moment';
    const what = this.mode === 'helper' ? `libpam helper process ${this.pid}` : 'libpam helper thread';
    const why = how.signal ? `died from ${how.signal}` : how.error ? `failed: ${how.error.message}` : `exited with status ${how.code}`;
    const message = this.info
      ? `${what} ${why} during ${during}: a native PAM module probably crashed. ` +
        'The handles in this helper are gone; other helpers are not affected.'
      : `${what} ${why} before it was ready: see its stderr (node ${process.version} must load koffi).`;
    this.fail(new PamHelperCrashedError(during, message, how.signal, how.code, { cause: how.error }));
  }

  private fail(error: Error): void {
    if (!this.dead) this.dead = error;
    this.settleReady.reject(error);
    const jobs = this.current ? [this.current, ...this.queue] : [...this.queue];
    this.current = undefined;
    this.queue.length = 0;
    for (const job of jobs) job.reject(this.deadError(job.req));
    this.channel.setRef(false);
  }

  private deadError(req: Request): Error {
    const e = this.dead!;
    if (!(e instanceof PamHelperCrashedError) || e.call === callName(req)) return e;
    return new PamHelperCrashedError(callName(req), e.message, e.signal, e.exitCode, { cause: e });
  }
}
