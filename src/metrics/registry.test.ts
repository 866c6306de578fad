import { describe, expect, it } from 'vitest';
import { Registry } from './registry.ts';

describe('the Prometheus registry', () => {
  it('writes counters, gauges and histograms with sorted, escaped labels', async () => {
    const r = new Registry();
    const c = r.counter('t_requests_total', 'Requests.\nAll of them.', ['kind', 'code']);
    c.inc({ kind: 'batch', code: 'A"B\\C' }, 2);
    c.inc({ code: 'A"B\\C', kind: 'batch' });
    const g = r.gauge('t_backlog', 'Backlog.', ['portal']);
    g.set({ portal: 'p1' }, 4);
    const h = r.histogram('t_latency_seconds', 'Latency.', [1, 0.1, 0.5]);
    h.observe({}, 0.05);
    h.observe({}, 0.7);
    h.observe({}, 3);
    const text = await r.expose();
    expect(text).toContain(
      [
        '# HELP t_requests_total Requests.\\nAll of them.',
        '# TYPE t_requests_total counter',
        't_requests_total{code="A\\"B\\\\C",kind="batch"} 3',
      ].join('\n'),
    );
    expect(text).toContain('# TYPE t_backlog gauge\nt_backlog{portal="p1"} 4');
    expect(text).toContain(
      [
        '# TYPE t_latency_seconds histogram',
        't_latency_seconds_bucket{le="0.1"} 1',
        't_latency_seconds_bucket{le="0.5"} 1',
        't_latency_seconds_bucket{le="1"} 2',
        't_latency_seconds_bucket{le="+Inf"} 3',
        't_latency_seconds_sum 3.75',
        't_latency_seconds_count 3',
      ].join('\n'),
    );
  });

  it('writes a metric nobody set as its header only (the AMI gauge without an AMI adapter)', async () => {
    const r = new Registry();
    r.gauge('t_ami_connected', 'AMI.', ['pbx']);
    expect((await r.expose()).trim()).toBe('# HELP t_ami_connected AMI.\n# TYPE t_ami_connected gauge');
  });

  it('runs collectors before a scrape, and survives one that fails', async () => {
    const r = new Registry();
    const g = r.gauge('t_age_seconds', 'Age.');
    r.collect(() => g.set({}, 7));
    r.collect(() => Promise.reject(new Error('store down')));
    r.collect(() => {
      throw new Error('a bug');
    });
    expect(await r.expose()).toContain('t_age_seconds 7\n');
  });

  it('refuses a counter going down, a name used for two types, and a label it does not declare', () => {
    const r = new Registry();
    expect(() => r.counter('t_x', 'x').inc({}, -1)).toThrow();
    expect(() => r.gauge('t_x', 'x')).toThrow(/another type/);
    expect(r.counter('t_x', 'x')).toBe(r.counter('t_x', 'again'));
    expect(() => r.counter('t_y', 'y', ['portal']).inc({ pbx: 'office' })).toThrow();
  });

  it('keeps each registry to itself, and adds the process figures when asked', async () => {
    const a = new Registry({ defaultMetrics: true });
    const b = new Registry();
    a.counter('t_calls_total', 'Calls.').inc();
    b.counter('t_calls_total', 'Calls.');
    expect(await a.expose()).toContain('t_calls_total 1\n');
    expect(await b.expose()).toContain('t_calls_total 0\n');
    expect(await a.expose()).toMatch(/^nodejs_heap_size_used_bytes \d+/m);
    expect(await b.expose()).not.toContain('nodejs_');
    expect(a.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});
