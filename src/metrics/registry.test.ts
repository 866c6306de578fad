import { describe, expect, it } from 'vitest';
import { Registry } from './registry.ts';

describe('the Prometheus text exposition', () => {
  it('writes counters, gauges and histograms with sorted, escaped labels', async () => {
    const r = new Registry();
    const c = r.counter('t_requests_total', 'Requests.\nAll of them.');
    c.inc({ kind: 'batch', code: 'A"B\\C' }, 2);
    c.inc({ kind: 'batch', code: 'A"B\\C' });
    const g = r.gauge('t_backlog', 'Backlog.');
    g.set({ portal: 'p1' }, 4);
    const h = r.histogram('t_latency_seconds', 'Latency.', [1, 0.1, 0.5]);
    h.observe({}, 0.05);
    h.observe({}, 0.7);
    h.observe({}, 3);
    expect(await r.expose()).toBe(
      [
        '# HELP t_requests_total Requests.\\nAll of them.',
        '# TYPE t_requests_total counter',
        't_requests_total{code="A\\"B\\\\C",kind="batch"} 3',
        '# HELP t_backlog Backlog.',
        '# TYPE t_backlog gauge',
        't_backlog{portal="p1"} 4',
        '# HELP t_latency_seconds Latency.',
        '# TYPE t_latency_seconds histogram',
        't_latency_seconds_bucket{le="0.1"} 1',
        't_latency_seconds_bucket{le="0.5"} 1',
        't_latency_seconds_bucket{le="1"} 2',
        't_latency_seconds_bucket{le="+Inf"} 3',
        't_latency_seconds_sum 3.75',
        't_latency_seconds_count 3',
        '',
      ].join('\n'),
    );
  });

  it('writes a metric nobody set as its header only (the AMI gauge without an AMI adapter)', async () => {
    const r = new Registry();
    r.gauge('t_ami_connected', 'AMI.');
    expect(await r.expose()).toBe('# HELP t_ami_connected AMI.\n# TYPE t_ami_connected gauge\n');
  });

  it('runs collectors before a scrape, and survives one that fails', async () => {
    const r = new Registry();
    const g = r.gauge('t_age_seconds', 'Age.');
    r.collect(() => g.set({}, 7));
    r.collect(() => Promise.reject(new Error('store down')));
    expect(await r.expose()).toContain('t_age_seconds 7\n');
  });

  it('refuses a counter going down and a name used for two types', () => {
    const r = new Registry();
    expect(() => r.counter('t_x', 'x').inc({}, -1)).toThrow();
    expect(() => r.gauge('t_x', 'x')).toThrow(/another type/);
    expect(r.counter('t_x', 'x')).toBe(r.counter('t_x', 'again'));
  });
});
