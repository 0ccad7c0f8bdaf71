import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { bridgeEventChannel, bridgeInvokeChannel, type ParadimBridge } from '../../shared/ipc/bridge.js';

const bridge: ParadimBridge = {
  invoke: (channel, input) => ipcRenderer.invoke(bridgeInvokeChannel, channel, input),
  onEvent: (listener) => {
    const wrapped = (_event: IpcRendererEvent, name: string, payload: unknown): void => listener(name, payload);
    ipcRenderer.on(bridgeEventChannel, wrapped);
    return () => {
      ipcRenderer.removeListener(bridgeEventChannel, wrapped);
    };
  },
};

contextBridge.exposeInMainWorld('paradim', bridge);
