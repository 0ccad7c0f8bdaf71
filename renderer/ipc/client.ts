import { AppError } from '../../shared/errors/app-error.js';
import type { ParadimBridge } from '../../shared/ipc/bridge.js';
import {
  channels,
  events,
  isEventName,
  type ChannelInput,
  type ChannelName,
  type ChannelOutput,
  type EventName,
  type EventPayload,
} from '../../shared/ipc/contract.js';
import { fromWireError } from '../../shared/ipc/envelope.js';
import { wireEnvelopeSchema } from '../../shared/ipc/wire.js';
import { bridgeTransport, socketTransport, type Transport } from './transports.js';

declare global {
  interface Window {
    readonly paradim?: ParadimBridge;
  }
}

/** The renderer's one typed way to main. Errors arrive as AppError with the error table's user message. */
export class ParadimClient {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  get shell(): Transport['kind'] {
    return this.#transport.kind;
  }

  async call<C extends ChannelName>(channel: C, input: ChannelInput<C>): Promise<ChannelOutput<C>> {
    const raw = await this.#transport.invoke(channel, input);
    const envelope = wireEnvelopeSchema.safeParse(raw);
    if (!envelope.success) throw new AppError('INTERNAL');
    if (!envelope.data.ok) throw fromWireError(envelope.data.error);
    const value = channels[channel].output.safeParse(envelope.data.value);
    if (!value.success) throw new AppError('INTERNAL');
    return value.data as ChannelOutput<C>;
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    return this.#transport.onEvent((name, payload) => {
      if (!isEventName(name) || name !== event) return;
      const parsed = events[event].safeParse(payload);
      if (parsed.success) listener(parsed.data as EventPayload<E>);
    });
  }
}

const secretKey = 'paradim.shellSecret';

/**
 * Picks the transport: the preload bridge inside Electron; otherwise the browser shell's socket, with the
 * secret taken from the address fragment once, then kept for this tab only and removed from the address bar.
 */
export function connectClient(location: Location, storage: Storage, history: History): ParadimClient {
  if (window.paradim !== undefined) return new ParadimClient(bridgeTransport(window.paradim));
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const fromFragment = fragment.get('secret');
  if (fromFragment !== null && fromFragment !== '') {
    storage.setItem(secretKey, fromFragment);
    history.replaceState(null, '', `${location.pathname}${location.search}`);
  }
  const secret = storage.getItem(secretKey);
  if (secret === null) throw new AppError('SHELL_NOT_AUTHORIZED');
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return new ParadimClient(socketTransport(`${scheme}//${location.host}/ipc`, secret));
}
