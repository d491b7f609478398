/**
 * The renderer's Content-Security-Policy: its own script and style only, no inline code, images
 * only from itself and blobs, network only back to its own origin (the --web WebSocket).
 * index.html carries the same policy in a meta tag for Electron's file:// page.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
