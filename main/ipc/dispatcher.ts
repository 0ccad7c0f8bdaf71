import type { Logger } from 'pino';
import { AppError } from '../../shared/errors/app-error.js';
import {
  channels,
  isChannelName,
  type ChannelInput,
  type ChannelName,
  type ChannelOutput,
} from '../../shared/ipc/contract.js';
import { fail, ok, zodDetails, type Envelope } from '../../shared/ipc/envelope.js';

export type Handler<C extends ChannelName> = (input: ChannelOutputOfInput<C>) => Promise<ChannelOutput<C>>;
type ChannelOutputOfInput<C extends ChannelName> = ReturnType<Channels[C]['input']['parse']>;
type Channels = typeof channels;

export type Handlers = { readonly [C in ChannelName]: Handler<C> };

/** Where a call came from; the transports decide trust before dispatching. */
export interface CallOrigin {
  readonly transport: 'electron' | 'websocket';
  readonly requestId: string;
}

export type Dispatch = (channel: unknown, input: unknown, origin: CallOrigin) => Promise<Envelope<unknown>>;

/**
 * The single entry point for contract calls from both shells: unknown channels and invalid inputs are
 * refused before any service runs; outputs are checked too, so a service bug never leaks a malformed value.
 */
export function createDispatcher(handlers: Handlers, log: Logger): Dispatch {
  return async (channel, input, origin) => {
    const started = performance.now();
    if (!isChannelName(channel)) {
      log.warn({ requestId: origin.requestId, transport: origin.transport }, 'ipc call to unknown channel');
      return fail(new AppError('UNKNOWN_CHANNEL', [{ path: 'channel', issue: 'is not part of the contract' }]));
    }
    const parsed = channels[channel].input.safeParse(input ?? {});
    if (!parsed.success) {
      log.info({ requestId: origin.requestId, channel, outcome: 'invalid-input' }, 'ipc call refused');
      return fail(new AppError('INVALID_INPUT', zodDetails(parsed.error)));
    }
    try {
      const handler = handlers[channel] as (value: unknown) => Promise<unknown>;
      const value = await handler(parsed.data);
      const checked = channels[channel].output.safeParse(value);
      if (!checked.success) {
        log.error({ requestId: origin.requestId, channel, issues: zodDetails(checked.error) }, 'handler returned a value outside the contract');
        return fail(new Error('output contract violation'));
      }
      log.debug({ requestId: origin.requestId, channel, ms: Math.round(performance.now() - started) }, 'ipc call');
      return ok(checked.data);
    } catch (error) {
      if (error instanceof AppError) {
        log.info({ requestId: origin.requestId, channel, code: error.code }, 'ipc call failed');
      } else {
        log.error({ requestId: origin.requestId, channel, err: error }, 'ipc handler bug');
      }
      return fail(error);
    }
  };
}

export type { ChannelInput };
