/**
 * The only door from the viewer page to the main process: one function per IPC channel, exposed
 * through contextBridge. The page never sees ipcRenderer or an IPC event (whose `sender` would leak).
 * A sandboxed preload must be one file, so the build bundles this with esbuild.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { IpcReply, ViewerFeed } from './viewer-feed';
import { IPC, type ConnectionStatus, type FrameMeta, type StatusUpdate, type ViewerSettings } from '../common/viewer/viewer-messages';

const bridge: ViewerFeed = {
  settings: () => ipcRenderer.invoke(IPC.settings) as Promise<ViewerSettings>,
  connect: async (request): Promise<ConnectionStatus> => {
    const reply = (await ipcRenderer.invoke(IPC.connect, request)) as IpcReply;
    if (!reply.ok) throw new Error(reply.error);
    if (!reply.connection) throw new Error('no connection in reply');
    return reply.connection;
  },
  disconnect: async (connectionId): Promise<void> => {
    await ipcRenderer.invoke(IPC.disconnect, connectionId);
  },
  displayed: (key, ticket) => ipcRenderer.send(IPC.displayed, key, ticket),
  onFrame: (listener) => {
    const wrapped = (_event: IpcRendererEvent, meta: FrameMeta, jpeg: Uint8Array): void => listener(meta, jpeg);
    ipcRenderer.on(IPC.frame, wrapped);
    return () => ipcRenderer.removeListener(IPC.frame, wrapped);
  },
  onStatus: (listener) => {
    const wrapped = (_event: IpcRendererEvent, update: StatusUpdate): void => listener(update);
    ipcRenderer.on(IPC.status, wrapped);
    return () => ipcRenderer.removeListener(IPC.status, wrapped);
  },
};

contextBridge.exposeInMainWorld('zerocam', bridge);
