/**
 * `/dashboard`: how the day went, at a glance. Calls per hour by outcome (today and the last 7
 * days), card latency, Bitrix24 requests per minute against the portals' limit with the outbox
 * backlog, and per-queue answer rate and wait. Call figures come from the journal; requests and
 * backlog from this process's memory of the last hour.
 */
import type { FastifyInstance } from 'fastify';
import { latencyStepMs, type JournalReader, type JournalStats } from '../journal/index.ts';
import { lines, stackedBars, type Series } from './charts.ts';
import { html, type Html } from './html.ts';
import { layout } from './pages.ts';
import type { AdminView } from './view.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MINUTE = 60_000;

const outcomes: readonly (Series & { key: string })[] = [
  { key: 'answered', name: 'answered', color: '#2e9e4f' },
  { key: 'missed', name: 'missed', color: '#d64545' },
  { key: 'busy', name: 'busy', color: '#e59b2b' },
  { key: 'abandoned', name: 'abandoned', color: '#8a5cc2' },
];

/** Latency classes a person reads: under a quarter second, half, one, two, five, more. */
const latencyClasses: readonly { upTo: number; label: string }[] = [
  { upTo: 250, label: '< 0.25 s' },
  { upTo: 500, label: '0.25–0.5 s' },
  { upTo: 1000, label: '0.5–1 s' },
  { upTo: 2000, label: '1–2 s' },
  { upTo: 5000, label: '2–5 s' },
  { upTo: Infinity, label: '≥ 5 s' },
];

const hh = (ms: number): string => new Date(ms).toISOString().slice(11, 13);
const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);
const day = (ms: number): string => new Date(ms).toISOString().slice(5, 10);

function hourly(stats: JournalStats, fromHour: number, hours: number): number[][] {
  const values = outcomes.map(() => Array.from({ length: hours }, () => 0));
  for (const row of stats.hours) {
    const i = row.hour - fromHour;
    const j = outcomes.findIndex((o) => o.key === row.outcome);
    const series = values[j];
    if (series && i >= 0 && i < hours) series[i] = (series[i] ?? 0) + row.calls;
  }
  return values;
}

interface DashboardFigures {
  now: number;
  week: JournalStats;
  today: JournalStats;
  minutes: ReturnType<JournalReader['minutes']>;
  /** Requests per minute the portals allow together (their buckets' rate). */
  limitPerMinute: number | null;
}

function dashboardPage(f: DashboardFigures): Html {
  const startOfDay = Math.floor(f.now / DAY) * DAY;
  const todayHour = startOfDay / HOUR;
  const weekHour = todayHour - 6 * 24;
  const todayTotals = f.today.hours.reduce((sum, r) => sum + r.calls, 0);
  const todayChart = stackedBars(
    `Calls per hour today (UTC), by outcome: ${String(todayTotals)} call${todayTotals === 1 ? '' : 's'}`,
    Array.from({ length: 24 }, (_, i) => hh(startOfDay + i * HOUR)),
    outcomes,
    hourly(f.today, todayHour, 24),
    2,
  );
  const weekChart = stackedBars(
    'Calls per hour, the last 7 days (UTC), by outcome',
    Array.from({ length: 7 * 24 }, (_, i) => (i % 24 === 0 ? day((weekHour + i) * HOUR) : '')),
    outcomes,
    hourly(f.week, weekHour, 7 * 24),
    24,
  );
  const latency = latencyClasses.map(() => 0);
  for (const row of f.week.latency) {
    const ms = row.step * latencyStepMs;
    const i = latencyClasses.findIndex((c) => ms < c.upTo);
    latency[i] = (latency[i] ?? 0) + row.calls;
  }
  const latencyChart = stackedBars(
    'Card latency (from ringing to the card on screen), the last 7 days',
    latencyClasses.map((c) => c.label),
    [{ name: 'calls', color: '#3b7dd8' }],
    [latency],
  );
  const from = Math.floor((f.now - 59 * MINUTE) / MINUTE) * MINUTE;
  const byMinute = new Map(f.minutes.map((p) => [p.at, p]));
  const minuteAts = Array.from({ length: 60 }, (_, i) => from + i * MINUTE);
  let lastBacklog: number | null = null;
  const requestsChart = lines(
    'Bitrix24 requests per minute against the portals’ limit, and the outbox backlog (the last hour)',
    minuteAts.map(hhmm),
    [
      { name: 'requests', color: '#3b7dd8', values: minuteAts.map((at) => byMinute.get(at)?.requests ?? 0) },
      {
        name: 'limit',
        color: '#d64545',
        dashed: true,
        values: minuteAts.map(() => f.limitPerMinute),
      },
      {
        name: 'backlog',
        color: '#e59b2b',
        values: minuteAts.map((at) => {
          const b = byMinute.get(at)?.backlog;
          if (b !== undefined && b !== null) lastBacklog = b;
          return at > f.now ? null : lastBacklog;
        }),
      },
      {
        name: 'refused (limit)',
        color: '#8a5cc2',
        values: minuteAts.map((at) => byMinute.get(at)?.rateLimited ?? 0),
      },
    ],
    10,
  );
  const queues =
    f.week.lines.length === 0
      ? html`<p class="empty">No calls in the last 7 days.</p>`
      : html`<table id="queue-figures">
          <thead>
            <tr>
              <th>Line / queue</th>
              <th>Calls</th>
              <th>Answered</th>
              <th>Answer rate</th>
              <th>Mean wait</th>
            </tr>
          </thead>
          <tbody>
            ${f.week.lines.map((l) => {
              const rate = l.calls === 0 ? 0 : l.answered / l.calls;
              return html`<tr>
                <td>${l.lineId === '' ? 'no line' : l.lineId}</td>
                <td>${l.calls}</td>
                <td>${l.answered}</td>
                <td>
                  <svg width="120" height="12" role="img" aria-label="${Math.round(rate * 100)}%">
                    <rect width="120" height="12" fill="#e3e7eb" />
                    <rect width="${Math.round(rate * 120)}" height="12" fill="#2e9e4f" />
                  </svg>
                  ${Math.round(rate * 100)}%
                </td>
                <td>${l.meanWaitMs === null ? '' : `${(l.meanWaitMs / 1000).toFixed(1)} s`}</td>
              </tr>`;
            })}
          </tbody>
        </table>`;
  return layout(
    'Dashboard',
    '/dashboard',
    html`<div id="dashboard" data-today-calls="${todayTotals}">
      ${todayChart} ${weekChart} ${latencyChart} ${requestsChart}
      <h2>Queues: answer rate and wait, the last 7 days</h2>
      ${queues}
    </div>`,
  );
}

export function registerDashboard(
  app: FastifyInstance,
  view: AdminView,
  journal: JournalReader | undefined,
): void {
  app.get('/dashboard', async (_request, reply) => {
    const now = Date.now();
    const empty: JournalStats = { hours: [], latency: [], lines: [] };
    const startOfDay = Math.floor(now / DAY) * DAY;
    const week = journal ? await journal.stats(startOfDay - 6 * DAY) : empty;
    const today: JournalStats = { ...week, hours: week.hours.filter((h) => h.hour * HOUR >= startOfDay) };
    const portals = await view.portals();
    const limitPerMinute =
      portals.length === 0 ? null : portals.reduce((sum, p) => sum + p.bucket.rate * 60, 0);
    const page = dashboardPage({
      now,
      week,
      today,
      minutes: journal?.minutes(now - HOUR) ?? [],
      limitPerMinute,
    });
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page.text);
  });
}
