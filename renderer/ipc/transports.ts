import { AppError } from '../../shared/errors/app-error.js';
import type { ParadimBridge } from '../../shared/ipc/bridge.js';
import { wireSecretPrefix, wireServerMessageSchema, wireSubprotocol } from '../../shared/ipc/wire.js';

/** How the window reaches main: Electron's preload bridge, or the browser shell's WebSocket. */
export interface Transport {
  readonly kind: 'electron' | 'browser';
  /** Resolves with main's raw envelope; the client validates it. */
  invoke(channel: string, input: unknown): Promise<unknown>;
  onEvent(listener: (event: string, payload: unknown) => void): () => void;
}

export function bridgeTransport(bridge: ParadimBridge): Transport {
  return { kind: 'electron', invoke: (channel, input) => bridge.invoke(channel, input), onEvent: (listener) => bridge.onEvent(listener) };
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: AppError): void;
}

/** One WebSocket per window, opened with the per-launch secret in the subprotocol list. */
export function socketTransport(url: string, secret: string): Transport {
  const pending = new Map<number, Pending>();
  const listeners = new Set<(event: string, payload: unknown) => void>();
  let nextId = 1;
  let broken: AppError | null = null;
  const socket = new WebSocket(url, [wireSubprotocol, `${wireSecretPrefix}${secret}`]);
  const opened = new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('close', () => reject(new AppError('SHELL_NOT_AUTHORIZED')), { once: true });
  });
  opened.catch(() => undefined);

  socket.addEventListener('message', (message: MessageEvent<unknown>) => {
    if (typeof message.data !== 'string') return;
    const parsed = wireServerMessageSchema.safeParse(JSON.parse(message.data));
    if (!parsed.success) return;
    const data = parsed.data;
    if (data.type === 'event') {
      for (const listener of listeners) listener(data.event, data.payload);
      return;
    }
    pending.get(data.id)?.resolve(data.envelope);
    pending.delete(data.id);
  });
  socket.addEventListener('close', () => {
    broken ??= new AppError('SHELL_DISCONNECTED');
    for (const entry of pending.values()) entry.reject(broken);
    pending.clear();
  });

  return {
    kind: 'browser',
    invoke: async (channel, input) => {
      await opened;
      if (broken !== null) throw broken;
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        socket.send(JSON.stringify({ id, channel, input }));
      });
    },
    onEvent: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
