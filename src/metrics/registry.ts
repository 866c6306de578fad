/**
 * A small Prometheus registry: counters, gauges and histograms with labels, and the text
 * exposition format (version 0.0.4). Written here rather than pulled in: it is a hundred lines,
 * and the bridge needs nothing of a client library beyond them.
 */

export type Labels = Readonly<Record<string, string>>;

const escapeLabel = (v: string): string =>
  v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

const keyOf = (labels: Labels): string => labelText(labels);

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

interface Metric {
  readonly name: string;
  lines(): string[];
}

abstract class Base<S> implements Metric {
  protected readonly series = new Map<string, { labels: Labels; value: S }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`bad metric name ${name}`);
  }

  protected get(labels: Labels, fresh: () => S): { labels: Labels; value: S } {
    const key = keyOf(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { ...labels }, value: fresh() };
      this.series.set(key, s);
    }
    return s;
  }

  /** Drops one series (a portal that went away) or all of them. */
  remove(labels?: Labels): void {
    if (labels === undefined) this.series.clear();
    else this.series.delete(keyOf(labels));
  }

  lines(): string[] {
    return [
      `# HELP ${this.name} ${escapeHelp(this.help)}`,
      `# TYPE ${this.name} ${this.type}`,
      ...this.samples(),
    ];
  }

  protected abstract samples(): string[];
}

export class Counter extends Base<number> {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new Error('a counter only goes up');
    this.get(labels, () => 0).value += by;
  }
  value(labels: Labels = {}): number {
    return this.series.get(keyOf(labels))?.value ?? 0;
  }
  protected samples(): string[] {
    return [...this.series.values()].map((s) => `${this.name}${labelText(s.labels)} ${num(s.value)}`);
  }
}

export class Gauge extends Base<number> {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
  set(labels: Labels, value: number): void {
    this.get(labels, () => 0).value = value;
  }
  value(labels: Labels = {}): number | undefined {
    return this.series.get(keyOf(labels))?.value;
  }
  protected samples(): string[] {
    return [...this.series.values()].map((s) => `${this.name}${labelText(s.labels)} ${num(s.value)}`);
  }
}

interface Buckets {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Base<Buckets> {
  constructor(
    name: string,
    help: string,
    readonly bounds: readonly number[],
  ) {
    super(name, help, 'histogram');
  }
  observe(labels: Labels, value: number): void {
    const s = this.get(labels, () => ({ counts: this.bounds.map(() => 0), sum: 0, count: 0 })).value;
    this.bounds.forEach((b, i) => {
      if (value <= b) s.counts[i] = (s.counts[i] ?? 0) + 1;
    });
    s.sum += value;
    s.count += 1;
  }
  count(labels: Labels = {}): number {
    return this.series.get(keyOf(labels))?.value.count ?? 0;
  }
  protected samples(): string[] {
    return [...this.series.values()].flatMap(({ labels, value }) => [
      ...this.bounds.map(
        (b, i) => `${this.name}_bucket${labelText(labels, ['le', num(b)])} ${num(value.counts[i] ?? 0)}`,
      ),
      `${this.name}_bucket${labelText(labels, ['le', '+Inf'])} ${num(value.count)}`,
      `${this.name}_sum${labelText(labels)} ${num(value.sum)}`,
      `${this.name}_count${labelText(labels)} ${num(value.count)}`,
    ]);
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors = new Set<() => void | Promise<void>>();

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }
  histogram(name: string, help: string, bounds: readonly number[]): Histogram {
    return this.add(
      new Histogram(
        name,
        help,
        [...bounds].sort((a, b) => a - b),
      ),
    );
  }

  /** Runs before each scrape: for figures read on demand (a backlog from the store). */
  collect(fn: () => void | Promise<void>): () => void {
    this.collectors.add(fn);
    return () => this.collectors.delete(fn);
  }

  async expose(): Promise<string> {
    // A collector that fails leaves its figures as they were; the scrape still answers.
    await Promise.allSettled([...this.collectors].map(async (c) => c()));
    return `${[...this.metrics.values()].flatMap((m) => m.lines()).join('\n')}\n`;
  }

  private add<M extends Metric>(metric: M): M {
    const existing = this.metrics.get(metric.name);
    if (existing) {
      if (existing.constructor !== metric.constructor)
        throw new Error(`metric ${metric.name} exists with another type`);
      return existing as M;
    }
    this.metrics.set(metric.name, metric);
    return metric;
  }
}
