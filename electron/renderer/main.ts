import type { ViewerFeed } from '../viewer-feed';
import { ViewerApp } from './viewer-app';
import { WebSocketFeed } from './websocket-feed';

declare global {
  interface Window {
    /** Present only in the Electron app, put there by the preload script. */
    zerocam?: ViewerFeed;
  }
}

function chooseFeed(onLost: () => void): ViewerFeed {
  if (window.zerocam) return window.zerocam;
  const url = new URL('feed', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return new WebSocketFeed(url.href, onLost);
}

const app: ViewerApp = new ViewerApp(chooseFeed(() => app.showNotice('Lost the connection to the viewer server. Reload the page once it runs again.')));
void app.start();
