import type { BrowserWindowConstructorOptions } from 'electron';

/**
 * The viewer window's settings, per Electron's security guide: the renderer gets no Node, runs
 * sandboxed in its own JavaScript world, and reaches the main process only through the preload's
 * bridge. Kept free of Electron at runtime so the tests can check it under plain Node.
 */
export function secureWindowOptions(preload: string): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 820,
    title: 'zerocam viewer',
    backgroundColor: '#0b0f14',
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  };
}

/** IPC is answered only for our own page, loaded from our own file; never for anything it might navigate to. */
export function isTrustedSender(senderFrameUrl: string | undefined, indexUrl: string): boolean {
  return senderFrameUrl === indexUrl;
}

/** Checks the arguments of a `displayed` IPC message, which arrives as untyped values. */
export function parseDisplayedArgs(key: unknown, ticket: unknown): { key: string; ticket: number } | undefined {
  if (typeof key !== 'string' || key.length === 0 || key.length > 160) return undefined;
  if (typeof ticket !== 'number' || !Number.isSafeInteger(ticket) || ticket < 0) return undefined;
  return { key, ticket };
}
