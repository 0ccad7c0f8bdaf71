import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { AppError } from '../../shared/errors/app-error.js';
import { fail, type Envelope } from '../../shared/ipc/envelope.js';
import { wireRequestSchema, wireSubprotocol } from '../../shared/ipc/wire.js';
import type { Dispatch } from '../ipc/dispatcher.js';
import type { EventHub } from '../ipc/event-hub.js';
import {
  isAllowedHost,
  isAllowedOrigin,
  newLaunchSecret,
  parseSubprotocols,
  secretMatches,
  shellContentSecurityPolicy,
} from './security.js';

export interface ShellServerOptions {
  /** The production renderer build (`app/renderer`). */
  readonly rendererDir: string;
  readonly dispatch: Dispatch;
  readonly hub: EventHub;
  readonly log: Logger;
  /** 0 picks a free port. The shell always binds to 127.0.0.1. */
  readonly port?: number;
  readonly secret?: string;
}

export interface ShellServer {
  readonly port: number;
  readonly secret: string;
  /** The address to open; the secret travels in the fragment, which browsers never send to a server. */
  readonly url: string;
  close(): Promise<void>;
}

const mimeTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

const maxMessageBytes = 1024 * 1024;

/** What the shell sends; the renderer checks it against `wireServerMessageSchema`. */
type OutgoingMessage =
  | { type: 'result'; id: number; envelope: Envelope<unknown> }
  | { type: 'event'; event: string; payload: unknown };

/**
 * Hosts the workstation's main-process services for a browser: serves the renderer build and carries the
 * IPC contract over a WebSocket. Loopback only; every request must name our Host; the socket needs our
 * Origin and the per-launch secret; inputs go through the same dispatcher as Electron IPC.
 */
export async function startShellServer(options: ShellServerOptions): Promise<ShellServer> {
  const { log } = options;
  const secret = options.secret ?? newLaunchSecret();
  const sockets = new Set<WebSocket>();
  let port = 0;

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, handleProtocols: () => wireSubprotocol });

  const http = createServer((req, res) => {
    void serveStatic(req, res).catch((error: unknown) => {
      log.error({ err: error }, 'static file serving failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  function refuse(res: ServerResponse, status: number, reason: string): void {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`${reason}\n`);
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isAllowedHost(req.headers.host, port)) return refuse(res, 403, 'Forbidden: unknown Host');
    if (!isAllowedOrigin(req.headers.origin, port, false)) return refuse(res, 403, 'Forbidden: foreign Origin');
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'Method not allowed');
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      return refuse(res, 400, 'Bad request path');
    }
    if (pathname === '/') pathname = '/index.html';
    const file = normalize(join(options.rendererDir, pathname));
    if (!file.startsWith(options.rendererDir + sep) || pathname.includes('\0')) return refuse(res, 404, 'Not found');
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return refuse(res, 404, 'Not found');
    res.writeHead(200, {
      'content-type': mimeTypes[extname(file)] ?? 'application/octet-stream',
      'content-length': info.size,
      'cache-control': extname(file) === '.html' ? 'no-store' : 'public, max-age=31536000, immutable',
      'content-security-policy': shellContentSecurityPolicy(port),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cross-origin-resource-policy': 'same-origin',
      'x-frame-options': 'DENY',
    });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).pipe(res);
  }

  function rejectUpgrade(socket: Duplex, status: number, reason: string): void {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  http.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/ipc') return rejectUpgrade(socket, 404, 'Not Found');
    if (!isAllowedHost(req.headers.host, port)) {
      log.warn({ reason: 'host' }, 'browser shell refused a socket');
      return rejectUpgrade(socket, 403, 'Forbidden');
    }
    if (!isAllowedOrigin(req.headers.origin, port, true)) {
      log.warn({ reason: 'origin' }, 'browser shell refused a socket');
      return rejectUpgrade(socket, 403, 'Forbidden');
    }
    const { protocolOk, secret: offered } = parseSubprotocols(req.headers['sec-websocket-protocol']);
    if (!protocolOk || !secretMatches(offered, secret)) {
      log.warn({ reason: 'secret' }, 'browser shell refused a socket');
      return rejectUpgrade(socket, 401, 'Unauthorized');
    }
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws));
  });

  function send(ws: WebSocket, message: OutgoingMessage): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  }

  function attach(ws: WebSocket): void {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(1003, 'text frames only');
      let request;
      try {
        request = wireRequestSchema.parse(JSON.parse(data.toString()));
      } catch {
        // Without a valid id there is nobody to answer: the peer is not our renderer.
        return ws.close(1008, 'malformed request');
      }
      const { id, channel, input } = request;
      options
        .dispatch(channel, input, { transport: 'websocket', requestId: randomUUID() })
        .catch((error: unknown) => fail(error instanceof AppError ? error : new Error('dispatch failed')))
        .then((envelope) => send(ws, { type: 'result', id, envelope }));
    });
  }

  const unsubscribe = options.hub.subscribe((event, payload) => {
    for (const ws of sockets) send(ws, { type: 'event', event, payload });
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (http.address() as AddressInfo).port;

  return {
    port,
    secret,
    url: `http://127.0.0.1:${port}/#secret=${secret}`,
    close: async () => {
      unsubscribe();
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => {
        wss.close(() => http.close(() => resolve()));
        http.closeAllConnections();
      });
    },
  };
}
