/**
 * The admin pages: plain server-rendered HTML. htmx (served from this bridge, no CDN) refreshes
 * the outbox and portal tables and submits the queue forms; the call board is pushed over SSE.
 */
import { html, raw, type Html } from './html.ts';
import type { EditProblem } from './queue-edit.ts';
import type {
  BacklogRow,
  CallRow,
  ExtensionMap,
  ExtensionProblem,
  LineRow,
  PortalHealth,
  QueueRow,
} from './view.ts';

export const HTMX_PATH = '/static/htmx.min.js';
export const SCRIPT_PATH = '/static/admin.js';

const nav: [string, string][] = [
  ['/', 'Calls'],
  ['/queues', 'Queues & lines'],
  ['/extensions', 'Extensions'],
  ['/outbox', 'Outbox'],
  ['/portals', 'Portals'],
  ['/journal', 'Journal'],
  ['/dashboard', 'Dashboard'],
];

const style = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2733;background:#f4f6f8}
header{background:#1d2733;color:#fff;padding:.6rem 1rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#cfe3ff;text-decoration:none}header a.on{color:#fff;font-weight:600}
header form{margin-left:auto}main{padding:1rem}
table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:1rem}
th,td{border-bottom:1px solid #e3e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
.badge{display:inline-block;border-radius:3px;padding:0 .35rem;font-size:12px;background:#e3e7eb;margin-right:.2rem}
.ringing{background:#fff3c4}.talking{background:#cdeccd}.ended{background:#e3e7eb;color:#555}
.up{background:#cdeccd}.down{background:#ffd6d6}.attention{background:#ffe0b3}
.problem{background:#ffd6d6}.ok{color:#17692b}.error{color:#a11}
section.queue{background:#fff;padding:.6rem 1rem;margin-bottom:1rem;border:1px solid #e3e7eb}
label{margin-right:1rem}input[type=text]{width:16rem}progress{width:10rem}
.empty{color:#777;font-style:italic}`;

export function layout(title: string, active: string, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${title} · b24-bridge</title>
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <style>
          ${raw(style)}
        </style>
        <script src="${HTMX_PATH}" defer></script>
        <script src="${SCRIPT_PATH}" defer></script>
      </head>
      <body>
        <header>
          <strong>b24-bridge</strong>
          ${nav.map(([href, label]) => html`<a href="${href}" class="${href === active ? 'on' : ''}">${label}</a>`)}
          <form method="post" action="/logout"><button type="submit">Log out</button></form>
        </header>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`;
}

export function loginPage(options: { error?: string | undefined; enabled: boolean; next?: string }): Html {
  const form = options.enabled
    ? html`<form method="post" action="/login">
        <input type="hidden" name="next" value="${options.next ?? '/'}" />
        <label
          >Password <input type="password" name="password" autocomplete="current-password" autofocus required
        /></label>
        <button type="submit">Log in</button>
      </form>`
    : html`<p class="error">
        No admin password or token is configured: set <code>admin.password</code> (or
        <code>B24_BRIDGE_ADMIN_PASSWORD</code>) and restart the bridge.
      </p>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>Log in · b24-bridge</title>
        <style>
          ${raw(style)}
        </style>
      </head>
      <body>
        <header><strong>b24-bridge</strong></header>
        <main>
          <h1>Log in</h1>
          ${options.error === undefined ? '' : html`<p class="error" role="alert">${options.error}</p>`}${form}
        </main>
      </body>
    </html>`;
}

// --- the call board ---

function duration(fromMs: number, toMs: number): string {
  const s = Math.max(0, Math.floor((toMs - fromMs) / 1000));
  const m = Math.floor(s / 60);
  return `${String(m)}:${String(s % 60).padStart(2, '0')}`;
}

function callState(call: CallRow): { label: string; css: string } {
  if (call.phase === 'pending') return { label: 'dialling', css: 'ringing' };
  if (call.phase === 'wrapping' || call.phase === 'done')
    return { label: `ended${call.endReason ? ` (${call.endReason.replace('_', ' ')})` : ''}`, css: 'ended' };
  const legs = Object.entries(call.legs);
  const talking = legs.filter(([, s]) => s === 'talking').map(([e]) => e);
  if (talking.length > 0) return { label: `talking: ${talking.join(', ')}`, css: 'talking' };
  const ringing = legs.filter(([, s]) => s === 'ringing').map(([e]) => e);
  if (ringing.length > 0) return { label: `ringing: ${ringing.join(', ')}`, css: 'ringing' };
  return { label: 'live', css: 'ringing' };
}

export function boardRows(calls: readonly CallRow[], now: number): Html {
  if (calls.length === 0)
    return html`<tr>
      <td colspan="7" class="empty">No calls right now.</td>
    </tr>`;
  return html`${calls.map((c) => boardRow(c, now))}`;
}

/** One call's row; `data-call` names it for the per-row updates of the stream. */
export function boardRow(c: CallRow, now: number): Html {
  const state = callState(c);
  const ended = c.endedAt !== null;
  const since = c.answeredAt ?? c.startedAt;
  return html`<tr class="call ${state.css}" data-call="${c.key}">
    <td>
      <a href="/journal/${encodeURIComponent(c.key)}">${c.pbxCallId}</a><br /><small
        >${c.lineId === '' ? 'no line' : c.lineId}</small
      >
    </td>
    <td>
      ${c.direction === 'inbound' ? '⇠ ' : '⇢ '}${c.phoneNumber}<br /><small
        >${c.direction === 'inbound' ? 'to' : 'from'} ${c.calledNumber}</small
      >
    </td>
    <td>
      ${c.crm ? html`${c.crm.entityType} #${c.crm.entityId}${c.createdLead ? html` <span class="badge">new lead</span>` : ''}` : html`<span class="empty">…</span>`}
    </td>
    <td class="holders">
      ${c.cardHolders.length === 0 ? html`<span class="empty">nobody</span>` : c.cardHolders.map((h) => html`<span class="badge">${h.name ?? `user ${String(h.userId)}`}</span>`)}
    </td>
    <td class="state">${state.label}</td>
    <td class="duration" ${ended ? '' : raw(`data-since="${String(since)}"`)}>
      ${duration(since, c.endedAt ?? now)}
    </td>
    <td><small>${c.portal}</small></td>
  </tr>`;
}

export function boardPage(calls: readonly CallRow[], now: number): Html {
  return layout(
    'Live calls',
    '/',
    html`<table>
        <thead>
          <tr>
            <th>Call</th>
            <th>Caller</th>
            <th>CRM match</th>
            <th>Card shown to</th>
            <th>State</th>
            <th>Duration</th>
            <th>Portal</th>
          </tr>
        </thead>
        <tbody id="board" data-stream="/board/stream" data-now="${now}">
          ${boardRows(calls, now)}
        </tbody>
      </table>
      <p><small>Live over server-sent events; ended calls stay for a minute.</small></p>`,
  );
}

// --- queues and lines ---

export function queueSection(
  q: QueueRow,
  message?: { saved?: boolean; problems?: readonly EditProblem[] },
  draft?: { members: string; strategy: string; memberTimeoutSec: string },
): Html {
  const members = draft?.members ?? q.members.join(', ');
  const strategy = draft?.strategy ?? q.strategy;
  const timeout = draft?.memberTimeoutSec ?? String(q.memberTimeoutSec);
  return html`<section class="queue" id="queue-${q.id}">
    <h2>
      ${q.lineName ?? q.id}
      <small
        >${q.lineNumber ?? ''} ·
        ${q.routing === 'responsible' ? `responsible manager first (${String(q.responsibleTimeoutSec ?? 0)} s), then the queue` : 'queue'}</small
      >
    </h2>
    <form
      method="post"
      action="/queues/${q.id}"
      hx-post="/queues/${q.id}"
      hx-target="#queue-${q.id}"
      hx-swap="outerHTML"
    >
      <label>Members <input type="text" name="members" value="${members}" /></label>
      <label
        >Strategy
        <select name="strategy">
          ${(['simultaneous', 'sequential'] as const).map((s) => html`<option value="${s}" ${s === strategy ? raw('selected') : ''}>${s}</option>`)}
        </select></label
      >
      <label
        >Ring time per member (s) <input type="text" name="memberTimeoutSec" value="${timeout}" size="5"
      /></label>
      <button type="submit">Save</button>
    </form>
    ${message?.saved ? html`<p class="ok" role="status">Saved: applies to new calls now, and after a restart.</p>` : ''}
    ${
      message?.problems && message.problems.length > 0
        ? html`<ul class="error" role="alert">
            ${message.problems.map((p) => html`<li>${p.path === '' ? '' : html`<code>${p.path}</code>: `}${p.message}</li>`)}
          </ul>`
        : ''
    }
  </section>`;
}

export function queuesPage(queues: readonly QueueRow[], lines: readonly LineRow[]): Html {
  return layout(
    'Queues & lines',
    '/queues',
    html`${queues.length === 0 ? html`<p class="empty">No line has a queue.</p>` : queues.map((q) => queueSection(q))}
      <h2>Lines</h2>
      <table>
        <thead>
          <tr>
            <th>Line</th>
            <th>Number</th>
            <th>Routing</th>
            <th>Rings</th>
            <th>Strategy</th>
            <th>Leads</th>
          </tr>
        </thead>
        <tbody>
          ${lines.map(
            (l) =>
              html`<tr>
                <td>${l.name ?? l.id} <small>${l.id}</small></td>
                <td>${l.number ?? ''}${l.calledNumbers.map((n) => html`<br /><small>${n}</small>`)}</td>
                <td>${l.routing}</td>
                <td>${l.targets.join(', ') || 'the number dialled'}</td>
                <td>${l.strategy ?? ''}</td>
                <td>${l.leadCreation}</td>
              </tr>`,
          )}
        </tbody>
      </table>`,
  );
}

// --- extensions ---

const problemText: Record<ExtensionProblem, string> = {
  user_without_extension: 'user without extension',
  extension_without_user: 'extension without user',
  duplicate_extension: 'duplicate extension',
  unknown_member: 'queue member nobody has',
};

export function extensionsPage(maps: readonly ExtensionMap[]): Html {
  return layout(
    'Extensions',
    '/extensions',
    html`${maps.length === 0 ? html`<p class="empty">No portal is connected.</p>` : ''}
    ${maps.map(
      (m) =>
        html`<h2>${m.portal}</h2>
          ${m.error === null ? '' : html`<p class="error">${m.error}</p>`}
          <table>
            <thead>
              <tr>
                <th>Extension</th>
                <th>User</th>
                <th>From</th>
                <th>Problems</th>
              </tr>
            </thead>
            <tbody>
              ${m.rows.map(
                (r) =>
                  html`<tr class="${r.problems.length > 0 ? 'problem' : ''}">
                    <td>${r.extension ?? '—'}</td>
                    <td>
                      ${r.userId === null ? '—' : html`${r.userName ?? ''} <small>#${r.userId}</small>`}
                    </td>
                    <td>${r.source}</td>
                    <td>${r.problems.map((p) => html`<span class="badge">${problemText[p]}</span>`)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`,
    )}`,
  );
}

// --- the outbox ---

export function outboxTable(rows: readonly BacklogRow[], now: number): Html {
  return html`<table id="outbox-table" hx-get="/outbox/table" hx-trigger="every 1s" hx-swap="outerHTML">
    <thead>
      <tr>
        <th>Portal</th>
        <th>Waiting</th>
        <th>In flight</th>
        <th>Failed</th>
        <th>Oldest entry</th>
        <th>Last error</th>
        <th>Replay</th>
        <th></th>
      </tr>
    </thead>
    <tbody>
      ${rows.map((r) => {
        const open = r.pending + r.inFlight;
        return html`<tr data-portal="${r.portal}">
          <td>${r.portal}</td>
          <td class="backlog">${open}</td>
          <td>${r.inFlight}</td>
          <td>${r.failed}</td>
          <td>${r.oldestOpenAt === null ? '—' : `${duration(r.oldestOpenAt, now)} ago`}</td>
          <td>
            ${r.lastError === null ? '—' : html`<code>${r.lastError.code}</code> <small>${duration(r.lastError.at, now)} ago</small>`}
          </td>
          <td class="replay">
            ${r.replay === null ? (open === 0 ? 'all delivered' : '—') : html`<progress max="${r.replay.total}" value="${r.replay.delivered}"></progress> ${r.replay.delivered} of ${r.replay.total}`}
          </td>
          <td>
            <button
              hx-post="/outbox/${encodeURIComponent(r.portal)}/replay"
              hx-target="#outbox-table"
              hx-swap="outerHTML"
            >
              Replay now
            </button>
          </td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

export const outboxPage = (rows: readonly BacklogRow[], now: number): Html =>
  layout(
    'Outbox',
    '/outbox',
    html`${rows.length === 0 ? html`<p class="empty">No portal is connected.</p>` : outboxTable(rows, now)}`,
  );

// --- portals ---

export function portalsTable(rows: readonly PortalHealth[], now: number): Html {
  return html`<table id="portals-table" hx-get="/portals/table" hx-trigger="every 2s" hx-swap="outerHTML">
    <thead>
      <tr>
        <th>Portal</th>
        <th>Link</th>
        <th>Rate-limit bucket</th>
        <th>Queued</th>
        <th>Token expires</th>
        <th>Re-install</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (p) =>
          html`<tr>
            <td>${p.domain ?? p.portal}<br /><small>${p.portal} · ${p.auth}</small></td>
            <td><span class="badge ${p.link}">${p.link}</span></td>
            <td>
              ${p.bucket.level.toFixed(1)} of ${p.bucket.burst}
              <small>(${p.bucket.rate}/s)</small
              >${p.pausedForMs > 0 ? html`<br /><small>paused ${Math.ceil(p.pausedForMs / 1000)} s</small>` : ''}
            </td>
            <td>${p.queued} <small>+${p.inFlight} in flight</small></td>
            <td>
              ${p.tokenExpiresAt === null ? '—' : p.tokenExpiresAt <= now ? 'expired (refreshed on next use)' : `in ${duration(now, p.tokenExpiresAt)}`}
            </td>
            <td>
              ${p.needsReinstall === null ? 'no' : html`<span class="badge problem">needed</span> ${p.needsReinstall.reason}`}
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export const portalsPage = (rows: readonly PortalHealth[], now: number): Html =>
  layout(
    'Portals',
    '/portals',
    html`${rows.length === 0 ? html`<p class="empty">No portal is connected yet: install the app in Bitrix24.</p>` : portalsTable(rows, now)}`,
  );

/** The page script: the board's SSE stream and the ticking durations. No data, no secrets. */
export const adminScript = `(() => {
  const board = document.getElementById('board');
  const offset = board ? Number(board.dataset.now) - Date.now() : 0;
  const fmt = (s) => Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
  const tick = () => {
    for (const el of document.querySelectorAll('[data-since]')) {
      el.textContent = fmt(Math.max(0, Math.floor((Date.now() + offset - Number(el.dataset.since)) / 1000)));
    }
  };
  setInterval(tick, 1000);
  if (board && window.EventSource) {
    const source = new EventSource(board.dataset.stream);
    // A push is the whole board, or (after the first) the rows that changed plus the order of
    // all rows shown: rows not sent again are kept as they are.
    source.addEventListener('board', (e) => {
      const next = document.createElement('tbody');
      next.innerHTML = e.data;
      const order = next.querySelector('tr.board-order');
      if (!order || order.dataset.full === 'true') { board.innerHTML = e.data; tick(); return; }
      const sent = new Map([...next.querySelectorAll('tr[data-call]')].map((tr) => [tr.dataset.call, tr]));
      const kept = new Map([...board.querySelectorAll('tr[data-call]')].map((tr) => [tr.dataset.call, tr]));
      const rows = JSON.parse(order.dataset.keys).map((k) => sent.get(k) || kept.get(k)).filter(Boolean);
      board.replaceChildren(order, ...rows);
      tick();
    });
    source.addEventListener('error', () => { board.dataset.stale = 'true'; });
    source.addEventListener('open', () => { delete board.dataset.stale; });
  }
})();
`;
