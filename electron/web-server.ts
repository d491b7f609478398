import type { Logger } from '../common/log';
import { HttpServer, type HttpRoutes, type HttpTls } from '../common/web/http-server';
import { viewerUiRoutes, type ViewerUiOptions } from '../common/web/viewer-page-routes';

export interface WebServerOptions extends ViewerUiOptions {
  host: string;
  port: number;
  log: Logger;
  /** More routes on the same server, after the viewer's own (the web gateway's, say). */
  routes?: readonly HttpRoutes[];
  /** --token; random when not given. */
  token?: string | undefined;
  /** --allowed-host: Host header names allowed besides loopback and the bound address. */
  allowedHosts?: readonly string[] | undefined;
  /** --tls-cert / --tls-key: HTTPS; plain HTTP without. */
  tls?: HttpTls | undefined;
}

/**
 * `zerocam-viewer --web`: serves the same renderer the desktop app shows, with frames over a
 * WebSocket, on zerocam's one HTTP server (common/web).
 */
export class ViewerWebServer {
  private constructor(private readonly http: HttpServer) {}

  get url(): string {
    return this.http.url;
  }

  /** What a user opens (with the token when the server made it up). */
  get pageUrl(): string {
    return this.http.pageUrl;
  }

  get tokenHint(): string {
    return this.http.tokenHint;
  }

  static async start(options: WebServerOptions): Promise<ViewerWebServer> {
    const ui = await viewerUiRoutes(options);
    const { host, port, log, token, allowedHosts, tls } = options;
    return new ViewerWebServer(await HttpServer.start({ host, port, log, token, allowedHosts, tls, routes: [ui, ...(options.routes ?? [])] }));
  }

  /** Closes every feed (and its sockets) and the HTTP server. Idempotent. */
  close(): Promise<void> {
    return this.http.close();
  }
}
