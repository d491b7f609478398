import { Counter, Gauge, Registry } from 'prom-client';
import { REJECT_REASONS } from '../errors';
import type { StreamCatalog } from './stream-catalog';

/** A hub's workers (--workers), per processor, as /metrics and /streams.json show them. */
export interface WorkMetrics {
  mode: string;
  workers: number;
  busy: number;
  resultsPerSecond: number;
  processingMs: { p50: number; p99: number };
  /** Counts since start: results, skipped, redispatched, timeouts, late, duplicates, malformed... */
  events: Record<string, number>;
  processors: Record<string, { workers: number; busy: number; results: number; resultsPerSecond: number; processingMs: { p50: number; p99: number } }>;
}

export interface MetricsSource {
  catalog: StreamCatalog;
  /** Receivers connected to a hub; absent outside the hub. */
  receivers?: () => number;
  /** A hub's work side; absent without --workers. */
  work?: () => WorkMetrics;
}

/**
 * The Prometheus registry behind /metrics. Values are read from the catalog when scraped, so the
 * frame path does no metrics work. Counters carry the whole run's totals (Prometheus takes rates).
 * Per-stream series are those of the streams the catalog tracks (--max-streams at most): a
 * forgotten stream's series go with it.
 */
export function createMetricsRegistry(source: MetricsSource): Registry {
  const registry = new Registry();
  const { catalog } = source;
  // prom-client calls every metric's collect() in one synchronous pass per scrape: the streams are
  // described once for all of them, and forgotten when that pass is over.
  let described: ReturnType<StreamCatalog['describe']> | undefined;
  const streams = (): ReturnType<StreamCatalog['describe']> => {
    if (!described) {
      described = catalog.describe(Date.now());
      queueMicrotask(() => (described = undefined));
    }
    return described;
  };

  const perStreamCounter = (name: string, help: string, read: (s: ReturnType<typeof streams>[number]) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['topic'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of streams()) this.inc({ topic: s.topic }, read(s));
      },
    });
  };
  perStreamCounter('zerocam_frames_total', 'Frames received per stream (repeats excluded).', (s) => s.frames);
  perStreamCounter('zerocam_bytes_total', 'JPEG bytes received per stream.', (s) => s.bytes);
  perStreamCounter('zerocam_dropped_frames_total', 'Frames lost on the way to this process (sequence gaps).', (s) => s.dropped);
  perStreamCounter('zerocam_skipped_frames_total', 'Frames received but not passed on because no receiver had room.', (s) => s.skipped);
  perStreamCounter('zerocam_duplicate_frames_total', 'Repeated frames discarded (same session, seq not above the last).', (s) => s.duplicates);

  new Counter({
    name: 'zerocam_rejected_messages_total',
    help: 'Malformed messages counted and dropped, by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      const byReason = catalog.stats.rejectedByReason;
      for (const reason of REJECT_REASONS) this.inc({ reason }, byReason[reason] ?? 0);
    },
  });
  new Gauge({
    name: 'zerocam_latency_seconds',
    help: 'Capture-to-receive latency per stream over the run, by quantile.',
    labelNames: ['topic', 'quantile'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of streams()) {
        this.set({ topic: s.topic, quantile: '0.5' }, s.latencyMs.p50 / 1000);
        this.set({ topic: s.topic, quantile: '0.99' }, s.latencyMs.p99 / 1000);
      }
    },
  });
  new Gauge({
    name: 'zerocam_latency_corrected',
    help: "1 if a stream's latency is corrected by its sender's clock offset measured on the wire (docs/protocol.md, \"Clock offsets\"), 0 if it spans two unsynchronised clocks.",
    labelNames: ['topic'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of streams()) this.set({ topic: s.topic }, s.latencyCorrected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'zerocam_clock_offset_seconds',
    help: "A stream's sender clock minus this process's, as measured on the wire; absent when not measured.",
    labelNames: ['topic'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of streams()) if (s.clockOffsetMs !== null) this.set({ topic: s.topic }, s.clockOffsetMs / 1000);
    },
  });
  new Gauge({
    name: 'zerocam_clock_uncertainty_seconds',
    help: 'The clock offset is within plus or minus this: half the minimum round trip, plus drift since.',
    labelNames: ['topic'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of streams()) if (s.clockUncertaintyMs !== null) this.set({ topic: s.topic }, s.clockUncertaintyMs / 1000);
    },
  });
  new Gauge({
    name: 'zerocam_frames_per_second',
    help: 'Frame rate per stream over the last seconds.',
    labelNames: ['topic'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of streams()) this.set({ topic: s.topic }, s.fps);
    },
  });
  new Gauge({
    name: 'zerocam_last_frame_age_seconds',
    help: 'Time since the newest frame of each stream.',
    labelNames: ['topic'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of streams()) this.set({ topic: s.topic }, s.lastFrameAgeMs / 1000);
    },
  });
  new Gauge({
    name: 'zerocam_streams',
    help: 'Streams tracked now (at most --max-streams; each until it sends nothing for --stream-ttl).',
    registers: [registry],
    collect() {
      this.set(catalog.stats.bounds.size);
    },
  });
  new Counter({
    name: 'zerocam_refused_frames_total',
    help: 'Frames of new streams refused because --max-streams streams were tracked.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(catalog.stats.bounds.refusedFrames);
    },
  });
  new Counter({
    name: 'zerocam_forgotten_streams_total',
    help: 'Streams forgotten after sending nothing for --stream-ttl.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(catalog.stats.bounds.forgottenStreams);
    },
  });
  if (source.work) addWorkMetrics(registry, source.work);
  const receivers = source.receivers;
  if (receivers) {
    new Gauge({
      name: 'zerocam_hub_receivers',
      help: 'Receivers connected to the hub.',
      registers: [registry],
      collect() {
        this.set(receivers());
      },
    });
  }
  return registry;
}

function addWorkMetrics(registry: Registry, work: () => WorkMetrics): void {
  const perProcessor = (name: string, help: string, read: (p: WorkMetrics['processors'][string]) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['processor'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [processor, p] of Object.entries(work().processors)) this.set({ processor }, read(p));
      },
    });
  };
  perProcessor('zerocam_work_workers', 'Workers connected, per processor.', (p) => p.workers);
  perProcessor('zerocam_work_busy_workers', 'Workers holding a frame now, per processor.', (p) => p.busy);
  perProcessor('zerocam_work_results_per_second', 'Results per second over the last seconds, per processor.', (p) => p.resultsPerSecond);
  new Counter({
    name: 'zerocam_work_results_total',
    help: 'Results published, per processor.',
    labelNames: ['processor'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [processor, p] of Object.entries(work().processors)) this.inc({ processor }, p.results);
    },
  });
  new Gauge({
    name: 'zerocam_work_processing_seconds',
    help: 'Processing time the workers report, per processor, by quantile.',
    labelNames: ['processor', 'quantile'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [processor, p] of Object.entries(work().processors)) {
        this.set({ processor, quantile: '0.5' }, p.processingMs.p50 / 1000);
        this.set({ processor, quantile: '0.99' }, p.processingMs.p99 / 1000);
      }
    },
  });
  new Counter({
    name: 'zerocam_work_events_total',
    help: 'Work events since start: dispatched, skipped, redispatched, timeouts, late, duplicates, unknown, malformed, garbage, abandoned, failed, moved.',
    labelNames: ['event'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [event, count] of Object.entries(work().events)) this.inc({ event }, count);
    },
  });
}
