import type { ViewerFeed } from '../viewer-feed';
import type { FrameMeta, ResultOverlay, StreamState, StreamStatus } from '../../common/viewer/viewer-messages';
import { DisplayStats } from './display-stats';
import { drawSparkline } from './sparkline';

const SPARKLINE_SPAN_MS = 10_000;

function nowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

/**
 * One stream on screen: a canvas that shows its newest frame, and an overlay with its state,
 * rates, latency and a latency sparkline. Frames are decoded off the main thread with
 * createImageBitmap and each bitmap is closed once drawn, so nothing accumulates.
 */
export class StreamTile {
  readonly element = element('figure', 'tile');
  private readonly canvas = element('canvas', 'frame');
  private readonly context: CanvasRenderingContext2D;
  private readonly badge = element('span', 'badge');
  private readonly metrics = element('div', 'metrics');
  private readonly banner = element('div', 'banner');
  private readonly sparkline = element('canvas', 'sparkline');
  private readonly stats = new DisplayStats();
  private status: StreamStatus | undefined;
  private current: { meta: FrameMeta; jpeg: Uint8Array } | undefined;
  /** The newest frame painted was a replay: the badge says REPLAY instead of LIVE. */
  private replay = false;
  /** The newest frame's clock offset (docs/protocol.md, "Clock offsets"); undefined: latency uncorrected. */
  private clock: { offsetUs: number; uncertaintyUs: number } | undefined;
  private decodeErrors = 0;
  private disposed = false;

  constructor(
    readonly key: string,
    readonly topic: string,
    private readonly feed: ViewerFeed,
    onFocus: (tile: StreamTile) => void,
  ) {
    this.context = this.canvas.getContext('2d', { alpha: false })!;
    this.element.dataset.stream = key;
    this.element.dataset.displayed = '0';
    this.sparkline.width = 180;
    this.sparkline.height = 40;

    const title = element('div', 'title');
    title.append(element('span', 'topic', topic), this.badge);
    const snapshot = element('button', 'snapshot', 'Snapshot');
    snapshot.title = 'Save the frame on screen as a JPEG';
    snapshot.addEventListener('click', (event) => {
      event.stopPropagation();
      this.saveSnapshot();
    });
    const fullscreen = element('button', 'fullscreen', 'Fullscreen');
    fullscreen.addEventListener('click', (event) => {
      event.stopPropagation();
      void this.element.requestFullscreen?.();
    });
    const actions = element('div', 'actions');
    actions.append(snapshot, fullscreen);
    const overlay = element('figcaption', 'overlay');
    overlay.append(title, this.metrics, this.sparkline);
    this.element.append(this.canvas, this.banner, overlay, actions);
    this.element.addEventListener('click', () => onFocus(this));
    this.setState('waiting');
  }

  showFrame(meta: FrameMeta, jpeg: Uint8Array): void {
    createImageBitmap(new Blob([jpeg as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' })).then(
      (bitmap) =>
        requestAnimationFrame(() => {
          if (!this.disposed) this.paint(meta, jpeg, bitmap);
          bitmap.close();
          this.feed.displayed(meta.key, meta.ticket);
        }),
      () => {
        this.decodeErrors++;
        this.feed.displayed(meta.key, meta.ticket);
      },
    );
  }

  updateStatus(status: StreamStatus): void {
    this.status = status;
    this.setState(status.state);
    this.render();
  }

  /** Refreshes the overlay; called on every status update and a few times a second. */
  render(): void {
    const now = performance.now();
    const s = this.status;
    const fps = this.stats.fps(now);
    const latency = this.stats.latency(now);
    const parts = [
      s && s.width ? `${s.width}×${s.height}` : '',
      `recv ${(s?.receivedFps ?? 0).toFixed(1)} fps`,
      `shown ${fps.toFixed(1)} fps`,
      latency ? `latency p50 ${latency.p50.toFixed(1)} · p99 ${latency.p99.toFixed(1)} ms ${latency.corrected && this.clock ? `(clock ±${(this.clock.uncertaintyUs / 1000).toFixed(2)} ms)` : '(uncorrected)'}` : 'latency –',
      `${(((s?.bytesPerSecond ?? 0) * 8) / 1e6).toFixed(1)} Mbit/s`,
      `dropped ${s?.dropped ?? 0} · skipped ${s?.skipped ?? 0}`,
      s?.results
        ? `${s.results.processor} ${s.results.perSecond.toFixed(1)} results/s · processing p50 ${s.results.processingP50Ms.toFixed(1)} ms · age ${s.results.ageMs === undefined ? '–' : `${s.results.ageMs.toFixed(0)} ms${s.results.ageUncertaintyMs === undefined ? ' (uncorrected)' : ''}`}`
        : '',
    ].filter(Boolean);
    this.metrics.replaceChildren(...parts.map((text) => element('span', 'metric', text)));
    this.element.dataset.displayFps = fps.toFixed(2);
    this.element.dataset.receivedFps = String(s?.receivedFps ?? 0);
    this.element.dataset.latencyP50 = latency ? latency.p50.toFixed(2) : '';
    this.element.dataset.latencyP99 = latency ? latency.p99.toFixed(2) : '';
    this.element.dataset.resultsPerSecond = s?.results ? s.results.perSecond.toFixed(2) : '';
    this.element.dataset.resultsAgeMs = s?.results?.ageMs === undefined ? '' : s.results.ageMs.toFixed(1);
    this.element.dataset.resultsAgeCorrected = String(s?.results?.ageUncertaintyMs !== undefined);
    this.element.dataset.resultsAgeUncertaintyMs = s?.results?.ageUncertaintyMs === undefined ? '' : s.results.ageUncertaintyMs.toFixed(2);
    this.element.dataset.latencyCorrected = String(latency?.corrected === true && this.clock !== undefined);
    this.element.dataset.clockOffsetMs = this.clock ? (this.clock.offsetUs / 1000).toFixed(3) : '';
    this.element.dataset.clockUncertaintyMs = this.clock ? (this.clock.uncertaintyUs / 1000).toFixed(3) : '';
    drawSparkline(this.sparkline, this.stats.history(now, SPARKLINE_SPAN_MS), now, SPARKLINE_SPAN_MS);
  }

  dispose(): void {
    this.disposed = true;
    this.element.remove();
  }

  private paint(meta: FrameMeta, jpeg: Uint8Array, bitmap: ImageBitmap): void {
    if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
      this.canvas.width = bitmap.width;
      this.canvas.height = bitmap.height;
    }
    this.context.drawImage(bitmap, 0, 0);
    if (meta.result) this.drawResult(meta.result, bitmap.width);
    // Latency is taken as the frame is drawn for the next paint, not when it arrived.
    // capture_us 0: no capture time (imagezmq), so the latency is unknown, not a number. A replay's
    // capture time is its original one, hours ago: its latency counts from when it was sent.
    // The capture time is on the sender's clock: moved onto ours by the offset measured on the wire, if any.
    const sinceUs = meta.replay ? meta.sendUs : meta.captureUs;
    this.stats.record(performance.now(), sinceUs === 0 ? undefined : (nowUs() - sinceUs + (meta.clockOffsetUs ?? 0)) / 1000, meta.clockOffsetUs !== null);
    this.clock = meta.clockOffsetUs === null ? undefined : { offsetUs: meta.clockOffsetUs, uncertaintyUs: meta.clockUncertaintyUs ?? 0 };
    this.replay = meta.replay;
    this.current = { meta, jpeg };
    this.element.dataset.displayed = String(this.stats.displayed);
    this.element.dataset.seq = String(meta.seq);
    if (this.status?.state !== 'stalled') this.setState('live');
  }

  /** The stream's newest result over the frame: its boxes, each with its label. */
  private drawResult(result: ResultOverlay, width: number): void {
    const context = this.context;
    const line = Math.max(2, Math.round(width / 320));
    const fontPx = Math.max(12, Math.round(width / 40));
    context.lineWidth = line;
    context.font = `${fontPx}px sans-serif`;
    context.textBaseline = 'top';
    for (const box of result.boxes) {
      context.strokeStyle = '#39ff14';
      context.strokeRect(box.x, box.y, box.w, box.h);
      const label = box.label ?? result.processor;
      const textWidth = context.measureText(label).width;
      const top = box.y >= fontPx + 4 ? box.y - fontPx - 4 : box.y;
      context.fillStyle = 'rgba(0, 0, 0, 0.6)';
      context.fillRect(box.x, top, textWidth + 8, fontPx + 4);
      context.fillStyle = '#39ff14';
      context.fillText(label, box.x + 4, top + 2);
    }
    this.element.dataset.resultSeq = String(result.seq);
    this.element.dataset.resultBoxes = String(result.boxes.length);
  }

  private setState(state: StreamState): void {
    this.element.dataset.state = state;
    this.badge.textContent = state === 'live' ? (this.replay ? 'REPLAY' : 'LIVE') : state === 'stalled' ? 'STALLED' : 'WAITING';
    this.element.dataset.replay = String(this.replay);
    this.banner.textContent = state === 'stalled' ? 'Stalled: no frames for 2 s' : state === 'waiting' ? 'Waiting for the first frame…' : '';
  }

  private saveSnapshot(): void {
    if (!this.current) return;
    const { meta, jpeg } = this.current;
    const url = URL.createObjectURL(new Blob([jpeg as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `${meta.topic}-${meta.session}-${meta.seq}.jpg`;
    link.click();
    // The download has its own reference by now; keeping the URL would pin the JPEG in memory.
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }

  get decodeFailures(): number {
    return this.decodeErrors;
  }
}
