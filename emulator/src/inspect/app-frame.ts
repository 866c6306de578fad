/**
 * The portal's side of an application shown in its frame, for a real browser:
 *
 * - `GET /_emulator/apps/<clientId>/page?userId=N` is the portal page a user opens the app on. As
 *   Bitrix24 does, it holds an iframe named `DOMAIN|PROTOCOL|APP_SID` (PROTOCOL 1 for https) and
 *   POSTs the user's form (AUTH_ID, REFRESH_ID, member_id, …) into it, to the app's installation
 *   path while the app is not installed. It answers the frame's messages: `getInitData` (the
 *   user's tokens, INSTALL while the installer runs), `setInstallFinish` (the installation is
 *   complete: events flow, starting with ONAPPINSTALL), `setInstall`, `refreshAuth`, and ignores
 *   the layout commands (`resizeWindow`, `setTitle`, …).
 * - `GET /api/v1/` is a stand-in for the BX24 library Bitrix24 serves at
 *   `https://api.bitrix24.com/api/v1/` (a browser test routes that address here): `BX24.init`,
 *   `installFinish`, `install`, `getAuth`, `refreshAuth`, `isAdmin`, `getDomain`, `getLang`,
 *   `placement.info`, `resizeWindow`, `setTitle`, `fitWindow`.
 *
 * The wire between them is the library's: the frame posts `command:params:callbackId:appSid` to the
 * portal's origin (params JSON, or empty and then left out), the portal answers the frame with
 * `callbackId:JSON`. No REST calls from the library (`callMethod`): the apps tested here make their
 * REST calls from their servers.
 */
import type { App } from '../portal/model.ts';
import type { Portal } from '../portal/portal.ts';
import type { AppOpening } from '../apps.ts';

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** JSON safe inside a <script> element. */
const scriptJson = (v: unknown): string =>
  JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/** The portal page that shows the app to the user `opening` is for. */
export function appFramePage(portal: Portal, app: App, opening: AppOpening): string {
  const target = app.installUrl;
  if (target === null) throw new Error('the app has no page');
  const installing = !app.installed;
  const protocol = new URL(portal.baseUrl).protocol === 'https:' ? '1' : '0';
  const appSid = opening.query.APP_SID ?? '';
  const frameName = `${portal.domain}|${protocol}|${appSid}`;
  const action = `${target}${target.includes('?') ? '&' : '?'}${new URLSearchParams(opening.query).toString()}`;
  const inputs = Object.entries(opening.form)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  const init = {
    DOMAIN: portal.domain,
    PROTOCOL: protocol,
    PATH: '/rest/',
    LANG: opening.query.LANG ?? 'en',
    AUTH_ID: opening.form.AUTH_ID,
    AUTH_EXPIRES: opening.form.AUTH_EXPIRES,
    REFRESH_ID: opening.form.REFRESH_ID,
    MEMBER_ID: opening.form.member_id,
    IS_ADMIN: opening.admin,
    APP_OPTIONS: {},
    USER_OPTIONS: {},
    PLACEMENT: 'DEFAULT',
    PLACEMENT_OPTIONS: {},
    INSTALL: installing,
    FIRST_RUN: installing,
  };
  const config = {
    init,
    appSid,
    appOrigin: new URL(target).origin,
    finishUrl: `/_emulator/apps/${encodeURIComponent(app.clientId)}/install-finish`,
  };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(app.name)} — emulated Bitrix24</title>
<style>body{font:14px system-ui,sans-serif;margin:1em}iframe{width:100%;height:420px;border:1px solid #ccc}</style></head>
<body><h1>${escapeHtml(app.name)}</h1>
<p>Application status: <strong id="app-status" data-installed="${String(app.installed)}">${installing ? 'installing' : 'installed'}</strong></p>
<form id="app-form" method="post" action="${escapeHtml(action)}" target="${escapeHtml(frameName)}">${inputs}</form>
<iframe id="app-frame" name="${escapeHtml(frameName)}"></iframe>
<script>
(function () {
  var c = ${scriptJson(config)};
  var frame = document.getElementById('app-frame');
  var status = document.getElementById('app-status');
  var installing = c.init.INSTALL;
  function reply(id, value) {
    if (id) frame.contentWindow.postMessage(id + ':' + JSON.stringify(value === undefined ? {} : value), c.appOrigin);
  }
  window.addEventListener('message', function (e) {
    if (e.source !== frame.contentWindow || e.origin !== c.appOrigin || typeof e.data !== 'string') return;
    var parts = e.data.split(':');
    if (parts.length < 3 || parts[parts.length - 1] !== c.appSid) return;
    var command = parts[0];
    var id = parts[parts.length - 2];
    switch (command) {
      case 'getInitData':
        reply(id, c.init);
        break;
      case 'setInstallFinish':
        if (!installing) return reply(id, { error: 'the application is installed already' });
        installing = false;
        fetch(c.finishUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
          .then(function (r) {
            if (!r.ok) throw new Error('install-finish answered ' + r.status);
            c.init.INSTALL = false;
            status.textContent = 'installed';
            status.setAttribute('data-installed', 'true');
            reply(id, {});
          })
          .catch(function (err) {
            installing = true;
            status.textContent = 'install failed: ' + err.message;
          });
        break;
      case 'setInstall':
        reply(id, {});
        break;
      case 'refreshAuth':
        reply(id, { AUTH_ID: c.init.AUTH_ID, REFRESH_ID: c.init.REFRESH_ID, AUTH_EXPIRES: c.init.AUTH_EXPIRES });
        break;
      default:
        reply(id, {});
    }
  });
  document.getElementById('app-form').submit();
})();
</script>
</body></html>`;
}

/** What https://api.bitrix24.com/api/v1/ gives an app's page: the BX24 object (see above). */
export const bx24Library = `/* BX24 library stand-in of the Bitrix24 emulator (b24-emulator). */
(function () {
  if (window.BX24) return;
  var q = (window.name || '').split('|');
  var domain = (q[0] || '').replace(/:(80|443)$/, '');
  var protocol = parseInt(q[1], 10) === 1;
  var appSid = q[2] || '';
  var origin = (protocol ? 'https' : 'http') + '://' + domain;
  var callbacks = {};
  var seq = 0;
  var data = null;
  var waiting = [];
  function send(command, params, callback) {
    var id = 'bx' + String(++seq) + Math.random().toString(36).slice(2, 10);
    if (callback) callbacks[id] = callback;
    var p = params == null ? '' : typeof params === 'string' ? params : JSON.stringify(params);
    parent.postMessage(command + ':' + [p, id, appSid].filter(Boolean).join(':'), origin);
  }
  window.addEventListener('message', function (e) {
    if (e.origin !== origin || typeof e.data !== 'string') return;
    var i = e.data.indexOf(':');
    var id = i < 0 ? e.data : e.data.slice(0, i);
    var args = i < 0 ? '' : e.data.slice(i + 1);
    var callback = callbacks[id];
    if (!callback) return;
    delete callbacks[id];
    callback(args ? JSON.parse(args) : undefined);
  });
  function auth() {
    if (!data) return false;
    return {
      access_token: data.AUTH_ID,
      refresh_token: data.REFRESH_ID,
      expires_in: Number(data.AUTH_EXPIRES),
      domain: data.DOMAIN,
      member_id: data.MEMBER_ID,
    };
  }
  window.BX24 = {
    init: function (callback) {
      if (data) callback();
      else waiting.push(callback);
    },
    install: function (callback) {
      if (data && data.INSTALL) callback();
    },
    installFinish: function () {
      if (!data || !data.INSTALL) return;
      send('setInstallFinish', null);
    },
    getAuth: auth,
    refreshAuth: function (callback) {
      send('refreshAuth', null, function (r) {
        data.AUTH_ID = r.AUTH_ID;
        data.REFRESH_ID = r.REFRESH_ID;
        data.AUTH_EXPIRES = r.AUTH_EXPIRES;
        if (callback) callback(auth());
      });
    },
    isAdmin: function () { return !!(data && data.IS_ADMIN); },
    getDomain: function () { return data ? data.DOMAIN : domain; },
    getLang: function () { return data ? data.LANG : 'en'; },
    placement: { info: function () { return data ? { placement: data.PLACEMENT, options: data.PLACEMENT_OPTIONS } : null; } },
    resizeWindow: function (width, height) { send('resizeWindow', { width: width, height: height }); },
    fitWindow: function () { send('resizeWindow', { width: '100%', height: document.body.scrollHeight }); },
    setTitle: function (title) { send('setTitle', { title: title }); },
  };
  if (domain && appSid)
    send('getInitData', null, function (d) {
      data = d;
      waiting.splice(0).forEach(function (f) { f(); });
    });
})();
`;
