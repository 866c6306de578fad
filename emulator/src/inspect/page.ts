/** The live page at /_emulator/: every user's screen, with the call cards they see right now. */
export const pageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Bitrix24 emulator: users' screens</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #eef2f4; color: #333; }
  header { background: #2fc6f6; color: #fff; padding: 12px 20px; font-size: 18px; }
  header small { opacity: .85; margin-left: 12px; }
  main { padding: 16px 20px; }
  .screens { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 14px; }
  .screen { background: #fff; border-radius: 8px; border: 1px solid #d5dde0; min-height: 150px; padding: 10px; position: relative; }
  .screen.inactive { opacity: .5; }
  .screen h3 { margin: 0 0 4px; font-size: 15px; }
  .screen .ext { color: #888; font-size: 12px; }
  .card { margin-top: 8px; border-radius: 6px; padding: 8px; background: #fff8e1; border: 2px solid #ffb300; }
  .card.new { animation: pop .25s ease-out; }
  .card.outgoing { background: #e8f5e9; border-color: #43a047; }
  .card .num { font-weight: 600; font-size: 15px; }
  .card .crm { font-size: 12px; color: #555; }
  .idle { color: #aaa; font-size: 12px; margin-top: 30px; text-align: center; }
  @keyframes pop { from { transform: scale(.8); opacity: 0; } to { transform: scale(1); opacity: 1; } }
  table { border-collapse: collapse; width: 100%; margin-top: 18px; background: #fff; font-size: 13px; }
  td, th { border-bottom: 1px solid #e3e8ea; padding: 5px 8px; text-align: left; }
  #status { font-size: 12px; }
</style>
</head>
<body>
<header>Bitrix24 portal emulator <small id="status">connecting…</small></header>
<main>
  <div class="screens" id="screens"></div>
  <h3>Recent calls</h3>
  <table><thead><tr><th>Call</th><th>Number</th><th>User</th><th>Direction</th><th>CRM</th><th>State</th><th>Recording</th></tr></thead>
  <tbody id="calls"></tbody></table>
</main>
<script>
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
// Only a card that just appeared pops; the others are redrawn as they were.
let seen = new Set();
function render(state) {
  const byId = new Map(state.users.map((u) => [u.id, u]));
  const now = new Set();
  document.getElementById('screens').innerHTML = state.users.map((u) => {
    const cards = u.cards.map((c) => { const key = u.id + '|' + c.callId; now.add(key);
      return '<div class="card ' + c.direction + (seen.has(key) ? '' : ' new') + '" data-call="' + esc(c.callId) + '">' +
      '<div class="num">' + (c.direction === 'outgoing' ? '&#8599; ' : '&#8601; ') + esc(c.phoneNumber) + '</div>' +
      '<div class="crm">' + (c.crm && c.crm.name ? esc(c.crm.type) + ': ' + esc(c.crm.name) : 'not in CRM') + '</div></div>'; }).join('');
    return '<div class="screen' + (u.active ? '' : ' inactive') + '" data-user="' + u.id + '"><h3>' + esc(u.name) + '</h3>' +
      '<div class="ext">user ' + u.id + (u.extension ? ', ext. ' + esc(u.extension) : ', no extension') + (u.active ? '' : ', not active') + '</div>' +
      (cards || '<div class="idle">no call</div>') + '</div>';
  }).join('');
  seen = now;
  const link = (c) => state.callLinkTemplate && c.externalCallId
    ? '<a class="call-link" href="' + esc(state.callLinkTemplate.replace('{externalCallId}', encodeURIComponent(c.externalCallId))) + '" target="_blank" rel="noopener">' + esc(c.callId.slice(13, 21)) + '…</a>'
    : esc(c.callId.slice(13, 21)) + '…';
  document.getElementById('calls').innerHTML = state.recent.map((c) => '<tr><td>' + link(c) + '</td><td>' +
    esc(c.phoneNumber) + '</td><td>' + esc(byId.get(c.userId)?.name ?? c.userId) + '</td><td>' + (c.type === 1 ? 'outgoing' : 'incoming') +
    '</td><td>' + esc(c.crm ?? '') + '</td><td>' + (c.finished ? 'finished ' + esc(c.statusCode) + ', ' + c.duration + ' s' : 'live') +
    '</td><td>' + (c.recordings ? 'yes' : '') + '</td></tr>').join('');
}
const source = new EventSource('stream');
source.addEventListener('screens', (e) => { render(JSON.parse(e.data)); document.getElementById('status').textContent = 'live'; });
source.onerror = () => { document.getElementById('status').textContent = 'reconnecting…'; };
</script>
</body>
</html>
`;
