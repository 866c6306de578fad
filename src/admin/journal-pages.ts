/**
 * The call journal's pages: the search (`/journal`) and one call's timeline (`/journal/<key>`).
 * Every value is escaped by `html`: numbers and names come from callers and the PBX.
 */
import type { CallSummary, JournalCall, JournalEntry } from '../journal/index.ts';
import { html, type Html } from './html.ts';
import type { QueryForm, QueryProblem } from './journal-query.ts';
import { layout } from './pages.ts';

const time = (ms: number | null): string =>
  ms === null ? '' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

const outcomeCss: Record<string, string> = {
  answered: 'talking',
  live: 'ringing',
  missed: 'problem',
  abandoned: 'problem',
  busy: 'attention',
  failed: 'problem',
};

const callLink = (c: CallSummary): Html =>
  html`<a
    href="/journal/${encodeURIComponent(c.callKey)}${c.portalId === '' ? '' : `?portal=${encodeURIComponent(c.portalId)}`}"
    >${c.pbxCallId}</a
  >`;

function resultsTable(calls: readonly CallSummary[]): Html {
  if (calls.length === 0) return html`<p class="empty">No call matches.</p>`;
  return html`<table id="journal-results">
    <thead>
      <tr>
        <th>Started</th>
        <th>Call</th>
        <th>Caller</th>
        <th>Line</th>
        <th>User</th>
        <th>Outcome</th>
        <th>CRM</th>
      </tr>
    </thead>
    <tbody>
      ${calls.map(
        (c) =>
          html`<tr class="journal-call" data-call="${c.callKey}">
            <td>${time(c.startedAt)}</td>
            <td>${callLink(c)}</td>
            <td>
              ${c.direction === 'inbound' ? '⇠ ' : '⇢ '}${c.phoneNumber}<br /><small
                >${c.direction === 'inbound' ? 'to' : 'from'} ${c.calledNumber}</small
              >
            </td>
            <td>${c.lineId}</td>
            <td>${c.userId === null ? '' : `user ${String(c.userId)}`}</td>
            <td><span class="badge ${outcomeCss[c.outcome] ?? ''}">${c.outcome}</span></td>
            <td>${c.crmEntityType === null ? '' : `${c.crmEntityType} #${String(c.crmEntityId ?? '')}`}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function journalPage(options: {
  form: QueryForm;
  calls: readonly CallSummary[];
  problems?: readonly QueryProblem[];
  available: boolean;
}): Html {
  const f = options.form;
  const field = (name: keyof QueryForm, label: string, type = 'text', hint = ''): Html =>
    html`<label
      >${label} <input type="${type}" name="${name}" value="${f[name]}" placeholder="${hint}"
    /></label>`;
  const body = html`<form method="get" action="/journal" id="journal-search">
      ${field('number', 'Number', 'text', '+7916…')} ${field('user', 'User id', 'text', '12')}
      ${field('line', 'Line', 'text', 'sales')} ${field('from', 'From', 'datetime-local')}
      ${field('to', 'To', 'datetime-local')}
      <label
        >Outcome
        <select name="outcome">
          ${['', 'answered', 'missed', 'busy', 'abandoned', 'failed', 'live'].map(
            (o) =>
              html`<option value="${o}" ${o === f.outcome ? html`selected` : ''}>
                ${o === '' ? 'any' : o}
              </option>`,
          )}
        </select></label
      >
      <button type="submit">Search</button>
    </form>
    ${(options.problems ?? []).map((p) => html`<p class="error" role="alert">${p.field}: ${p.message}</p>`)}
    ${
      options.available
        ? resultsTable(options.calls)
        : html`<p class="empty">The call journal is not kept by this store.</p>`
    }`;
  return layout('Call journal', '/journal', body);
}

const kindCss: Record<string, string> = {
  pbx: '',
  route: 'ringing',
  card: 'talking',
  bitrix: '',
  retry: 'attention',
  outage: 'down',
  crm: 'up',
};

function entryRow(e: JournalEntry, startedAt: number): Html {
  const late = e.recordedAt - e.at;
  return html`<tr class="journal-entry kind-${e.kind}">
    <td>${time(e.at)}<br /><small>+${((e.at - startedAt) / 1000).toFixed(1)} s</small></td>
    <td>
      ${time(e.recordedAt)}${late > 1000 ? html`<br /><small>${(late / 1000).toFixed(1)} s late</small>` : ''}
    </td>
    <td><span class="badge ${kindCss[e.kind] ?? ''}">${e.kind}</span></td>
    <td>
      ${e.summary}
      <details>
        <summary><small>details</small></summary>
        <pre>${JSON.stringify(e.detail, null, 2)}</pre>
      </details>
    </td>
  </tr>`;
}

export function journalCallPage(call: JournalCall): Html {
  const c = call.summary;
  const facts: [string, string | Html][] = [
    ['Call', `${c.pbxCallId} (${c.callKey})`],
    ['Portal', c.portalId],
    ['Caller', `${c.phoneNumber} → ${c.calledNumber} (${c.direction})`],
    ['Line', c.lineId],
    ['User', c.userId === null ? '' : `user ${String(c.userId)}`],
    ['Started', time(c.startedAt)],
    ['Answered', time(c.answeredAt)],
    ['Ended', `${time(c.endedAt)}${c.endReason === null ? '' : ` (${c.endReason.replace('_', ' ')})`}`],
    [
      'Outcome',
      html`<span class="badge ${outcomeCss[c.outcome] ?? ''}" id="journal-outcome">${c.outcome}</span>`,
    ],
    ['Card latency', c.cardLatencyMs === null ? '' : `${String(c.cardLatencyMs)} ms from ringing`],
    ['CRM record', c.crmEntityType === null ? '' : `${c.crmEntityType} #${String(c.crmEntityId ?? '')}`],
    ['CRM activity', c.activityId === null ? '' : `#${c.activityId}`],
    ['Recording', c.recording ?? ''],
  ];
  return layout(
    `Call ${c.pbxCallId}`,
    '/journal',
    html`<p><a href="/journal">← the journal</a></p>
      <table>
        <tbody>
          ${facts.map(
            ([k, v]) =>
              html`<tr>
                <th>${k}</th>
                <td>${v}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h2>Timeline</h2>
      ${
        call.entries.length === 0
          ? html`<p class="empty">Nothing recorded.</p>`
          : html`<table id="journal-timeline">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Arrived</th>
                  <th>What</th>
                  <th>Detail</th>
                </tr>
              </thead>
              <tbody>
                ${call.entries.map((e) => entryRow(e, c.startedAt))}
              </tbody>
            </table>`
      }`,
  );
}
