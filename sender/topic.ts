import { hostname } from 'node:os';

/** A default stream name from the host and source, squeezed into the protocol's topic alphabet. */
export function defaultTopic(sourceSlug: string, host = hostname()): string {
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  const topic = `${clean(host.split('.')[0] ?? '') || 'zerocam'}-${clean(sourceSlug) || 'stream'}`;
  return topic.slice(0, 64);
}
