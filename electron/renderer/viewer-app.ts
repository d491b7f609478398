import type { ViewerFeed } from '../viewer-feed';
import type { ConnectionStatus, ConnectRequest, StatusUpdate, ViewerPattern } from '../../common/viewer/viewer-messages';
import { settingsStore } from './settings-store';
import { StreamTile } from './stream-tile';

const OVERLAY_REFRESH_MS = 250;

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`index.html lacks #${id}`);
  return node as T;
}

/** The viewer page: a connection form, one chip per connection, and a grid of stream tiles. */
export class ViewerApp {
  private readonly tiles = new Map<string, StreamTile>();
  private readonly placeholders = new Map<string, HTMLElement>();
  private connections: ConnectionStatus[] = [];
  private readonly grid = byId<HTMLElement>('grid');
  private readonly chips = byId<HTMLElement>('connections');
  private readonly form = byId<HTMLFormElement>('connect-form');
  private readonly endpointInput = byId<HTMLInputElement>('endpoint');
  private readonly patternInput = byId<HTMLSelectElement>('pattern');
  private readonly topicsInput = byId<HTMLInputElement>('topics');
  private readonly serverKeyInput = byId<HTMLInputElement>('server-key');
  private readonly resultsInput = byId<HTMLInputElement>('results');
  private readonly errorLine = byId<HTMLElement>('error');

  constructor(private readonly feed: ViewerFeed) {}

  async start(): Promise<void> {
    this.feed.onStatus((update) => this.onStatus(update));
    this.feed.onFrame((meta, jpeg) => this.tile(meta.key, meta.topic).showFrame(meta, jpeg));
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.connect(this.formRequest());
    });
    setInterval(() => this.tiles.forEach((tile) => tile.render()), OVERLAY_REFRESH_MS);

    const fromFlags = (await this.feed.settings()).connections;
    const initial = fromFlags.length > 0 ? fromFlags : settingsStore.load().connections;
    const first = initial[0];
    if (first) this.fillForm(first);
    for (const request of initial) await this.connect(request);
  }

  showNotice(text: string): void {
    this.errorLine.textContent = text;
  }

  private async connect(request: ConnectRequest): Promise<void> {
    this.showNotice('');
    try {
      const connection = await this.feed.connect(request);
      this.connections = [...this.connections.filter((c) => c.id !== connection.id), connection];
      this.remember();
      this.renderChips();
      this.syncPlaceholders();
    } catch (error) {
      this.showNotice(`Cannot connect to ${request.endpoint}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async disconnect(connectionId: string): Promise<void> {
    await this.feed.disconnect(connectionId);
    this.connections = this.connections.filter((c) => c.id !== connectionId);
    for (const [key, tile] of this.tiles) {
      if (key.startsWith(`${connectionId}/`)) {
        tile.dispose();
        this.tiles.delete(key);
      }
    }
    this.remember();
    this.renderChips();
    this.syncPlaceholders();
  }

  private onStatus(update: StatusUpdate): void {
    this.connections = update.connections;
    for (const status of update.streams) this.tile(status.key, status.topic).updateStatus(status);
    const live = new Set(update.streams.map((s) => s.key));
    for (const [key, tile] of this.tiles) {
      if (!live.has(key)) {
        tile.dispose();
        this.tiles.delete(key);
      }
    }
    this.renderChips();
    this.syncPlaceholders();
  }

  private tile(key: string, topic: string): StreamTile {
    let tile = this.tiles.get(key);
    if (!tile) {
      tile = new StreamTile(key, topic, this.feed, (t) => this.toggleFocus(t));
      this.tiles.set(key, tile);
      this.grid.append(tile.element);
      this.syncPlaceholders();
    }
    return tile;
  }

  private toggleFocus(tile: StreamTile): void {
    const focusing = !tile.element.classList.contains('focused');
    for (const t of this.tiles.values()) t.element.classList.remove('focused');
    tile.element.classList.toggle('focused', focusing);
    this.grid.classList.toggle('has-focus', focusing);
  }

  /** A connection that has shown no stream yet gets a "waiting" tile, so it is never just missing. */
  private syncPlaceholders(): void {
    const wanted = new Set(this.connections.filter((c) => ![...this.tiles.keys()].some((k) => k.startsWith(`${c.id}/`))).map((c) => c.id));
    for (const [id, node] of this.placeholders) {
      if (!wanted.has(id)) {
        node.remove();
        this.placeholders.delete(id);
      }
    }
    for (const connection of this.connections) {
      if (!wanted.has(connection.id) || this.placeholders.has(connection.id)) continue;
      const node = document.createElement('figure');
      node.className = 'tile placeholder';
      node.dataset.state = 'waiting';
      const text = document.createElement('div');
      text.className = 'banner';
      text.textContent = `Waiting for the first frame from ${connection.endpoint}…`;
      node.append(text);
      this.placeholders.set(connection.id, node);
      this.grid.append(node);
    }
  }

  private renderChips(): void {
    this.chips.replaceChildren(
      ...this.connections.map((connection) => {
        const chip = document.createElement('li');
        chip.className = 'chip';
        chip.dataset.state = connection.state;
        const label = document.createElement('span');
        const topics = connection.topics.length ? ` [${connection.topics.join(', ')}]` : '';
        const results = connection.results ? ` + results ${connection.results}` : '';
        label.textContent = `${connection.endpoint} (${connection.pattern}${connection.serverKey ? ', CURVE' : ''})${topics}${results}`;
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.textContent = '×';
        remove.title = 'Disconnect';
        remove.addEventListener('click', () => void this.disconnect(connection.id));
        chip.append(label, remove);
        return chip;
      }),
    );
  }

  private formRequest(): ConnectRequest {
    const topics = this.topicsInput.value
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const serverKey = this.serverKeyInput.value.trim();
    const results = this.resultsInput.value.trim();
    return {
      endpoint: this.endpointInput.value.trim(),
      pattern: this.patternInput.value as ViewerPattern,
      topics,
      ...(serverKey ? { serverKey } : {}),
      ...(results ? { results } : {}),
    };
  }

  private fillForm(request: ConnectRequest): void {
    this.endpointInput.value = request.endpoint;
    this.patternInput.value = request.pattern;
    this.topicsInput.value = request.topics.join(', ');
    this.serverKeyInput.value = request.serverKey ?? '';
    this.resultsInput.value = request.results ?? '';
  }

  private remember(): void {
    settingsStore.save({
      connections: this.connections.map(({ endpoint, pattern, topics, serverKey, results }) => ({ endpoint, pattern, topics, ...(serverKey ? { serverKey } : {}), ...(results ? { results } : {}) })),
    });
  }
}
