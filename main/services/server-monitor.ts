import type { Logger } from 'pino';
import type { ServerStatus } from '../../shared/ipc/contract.js';
import { describeNetworkError } from './companion-api.js';

/**
 * Watches the companion server's health endpoint and reports changes. This is the first piece of the
 * workstation's DICOMweb client in main: the renderer never talks to the server directly.
 */
export class ServerMonitor {
  #url: string | null;
  #status: ServerStatus;
  #timer: NodeJS.Timeout | undefined;
  readonly #onChange: (status: ServerStatus) => void;
  readonly #log: Logger;
  readonly #timeoutMs: number;

  constructor(options: { url: string | null; onChange: (status: ServerStatus) => void; log: Logger; timeoutMs?: number }) {
    this.#url = options.url;
    this.#onChange = options.onChange;
    this.#log = options.log;
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#status = { url: this.#url, state: 'unknown', serverVersion: null, reason: null, checkedAt: null };
  }

  get status(): ServerStatus {
    return this.#status;
  }

  start(intervalMs: number): void {
    this.stop();
    void this.checkNow();
    this.#timer = setInterval(() => void this.checkNow(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async setUrl(url: string | null): Promise<ServerStatus> {
    this.#url = url;
    return this.checkNow();
  }

  async checkNow(): Promise<ServerStatus> {
    const url = this.#url;
    const next = url === null ? this.#make(null, 'offline', null, 'no companion server is configured') : await this.#probe(url);
    const changed = next.state !== this.#status.state || next.url !== this.#status.url || next.reason !== this.#status.reason;
    this.#status = next;
    if (changed) {
      this.#log.info({ state: next.state }, 'companion server status changed');
      this.#onChange(next);
    }
    return next;
  }

  async #probe(url: string): Promise<ServerStatus> {
    try {
      const response = await fetch(new URL('healthz', url.endsWith('/') ? url : `${url}/`), {
        signal: AbortSignal.timeout(this.#timeoutMs),
        headers: { accept: 'application/json' },
      });
      if (!response.ok) return this.#make(url, 'offline', null, `the server answered HTTP ${response.status}`);
      const body = (await response.json()) as unknown;
      const version = typeof body === 'object' && body !== null && 'version' in body && typeof body.version === 'string' ? body.version : null;
      return this.#make(url, 'online', version, null);
    } catch (error) {
      return this.#make(url, 'offline', null, error instanceof SyntaxError ? 'the server answered something that is not a PARADIM health report' : describeNetworkError(error));
    }
  }

  #make(url: string | null, state: ServerStatus['state'], serverVersion: string | null, reason: string | null): ServerStatus {
    return { url, state, serverVersion, reason, checkedAt: new Date().toISOString() };
  }
}
