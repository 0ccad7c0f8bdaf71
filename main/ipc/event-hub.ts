import type { EventName } from '../../shared/ipc/contract.js';

export type EventListener = (event: EventName, payload: unknown) => void;

/** Fan-out of main → renderer events to every attached window or socket. */
export interface EventHub {
  broadcast(event: EventName, payload: unknown): void;
  subscribe(listener: EventListener): () => void;
}

export function createEventHub(): EventHub {
  const listeners = new Set<EventListener>();
  return {
    broadcast(event, payload) {
      for (const listener of listeners) listener(event, payload);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
