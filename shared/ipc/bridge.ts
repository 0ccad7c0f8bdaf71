/**
 * The only surface the Electron preload exposes to the window (`window.paradim`), kept tiny on purpose:
 * it forwards contract calls and events; all validation happens in main.
 */
export interface ParadimBridge {
  invoke(channel: string, input: unknown): Promise<unknown>;
  onEvent(listener: (event: string, payload: unknown) => void): () => void;
}

export const bridgeInvokeChannel = 'paradim:invoke';
export const bridgeEventChannel = 'paradim:event';
