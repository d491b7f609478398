/**
 * A path on the server whose page URL (the one printed at start, with ?token=) is `printed`,
 * carrying the same token: how a user opens a snapshot or MJPEG URL in VLC or an <img>.
 */
export function webUrl(printed: string, path: string): string {
  const url = new URL(path, printed);
  url.search = new URL(printed).search;
  return url.href;
}
