/**
 * The bridge's Prometheus registry, on prom-client: one per bridge instance (two bridges in one
 * process, as in tests, never mix their figures), with the process figures every Node service
 * exposes (event-loop lag, heap, GC, open handles, CPU) when asked for, and collectors that run
 * before each scrape for the figures read at scrape time (backlog, link, bucket).
 *
 * Metrics declare their label names; labels are written sorted by name, so a series reads the
 * same whatever order a caller gives them in.
 */
import client from 'prom-client';

type Labels = Readonly<Record<string, string>>;

const sorted = (labels: Labels): Labels =>
  Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

export class Counter {
  constructor(private readonly metric: client.Counter) {}

  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new Error('a counter only goes up');
    this.metric.inc(sorted(labels), by);
  }

  /** Drops one series (a portal that went away) or all of them. */
  remove(labels?: Labels): void {
    if (labels === undefined) this.metric.reset();
    else this.metric.remove(sorted(labels));
  }
}

export class Gauge {
  constructor(private readonly metric: client.Gauge) {}

  set(labels: Labels, value: number): void {
    this.metric.set(sorted(labels), value);
  }

  remove(labels?: Labels): void {
    if (labels === undefined) this.metric.reset();
    else this.metric.remove(sorted(labels));
  }
}

class Histogram {
  constructor(private readonly metric: client.Histogram) {}

  observe(labels: Labels, value: number): void {
    this.metric.observe(sorted(labels), value);
  }

  remove(labels?: Labels): void {
    if (labels === undefined) this.metric.reset();
    else this.metric.remove(sorted(labels));
  }
}

interface RegistryOptions {
  /** prom-client's default metrics: process CPU and memory, event-loop lag, heap, GC, handles. */
  defaultMetrics?: boolean | undefined;
}

type Kind = 'counter' | 'gauge' | 'histogram';

export class Registry {
  /** The Prometheus text format, version 0.0.4. */
  readonly contentType = client.Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly registry = new client.Registry();
  private readonly made = new Map<string, { kind: Kind; metric: Counter | Gauge | Histogram }>();
  private readonly collectors = new Set<() => void | Promise<void>>();

  constructor(options: RegistryOptions = {}) {
    if (options.defaultMetrics === true) client.collectDefaultMetrics({ register: this.registry });
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.make(name, 'counter', () => {
      return new Counter(new client.Counter({ name, help, labelNames, registers: [this.registry] }));
    }) as Counter;
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.make(name, 'gauge', () => {
      return new Gauge(new client.Gauge({ name, help, labelNames, registers: [this.registry] }));
    }) as Gauge;
  }

  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly string[] = [],
  ): Histogram {
    return this.make(name, 'histogram', () => {
      return new Histogram(
        new client.Histogram({
          name,
          help,
          labelNames,
          // prom-client counts a value into the first bucket it fits: they must be in order.
          buckets: [...buckets].sort((a, b) => a - b),
          registers: [this.registry],
        }),
      );
    }) as Histogram;
  }

  /** Runs `collect` before every scrape; returns a function that stops it. */
  collect(collect: () => void | Promise<void>): () => void {
    this.collectors.add(collect);
    return () => this.collectors.delete(collect);
  }

  /** The text exposition. A collector that fails leaves its figures as they were. */
  async expose(): Promise<string> {
    await Promise.all([...this.collectors].map(async (c) => c()).map((p) => p.catch(() => undefined)));
    return this.registry.metrics();
  }

  /** A name stands for one metric: asked again, the same one comes back; as another type, an error. */
  private make(
    name: string,
    kind: Kind,
    create: () => Counter | Gauge | Histogram,
  ): Counter | Gauge | Histogram {
    const existing = this.made.get(name);
    if (existing) {
      if (existing.kind !== kind) throw new Error(`metric ${name} is already registered as another type`);
      return existing.metric;
    }
    const metric = create();
    this.made.set(name, { kind, metric });
    return metric;
  }
}
