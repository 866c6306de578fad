import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticateToken, authenticateWebhook, hasScope, type AuthContext } from './auth.ts';
import { core, errors, RestError } from './errors.ts';
import { readParams, type UploadedFile } from './http/body.ts';
import { phpSection, sendError, sendJson, timeInfo, type TimeInfo } from './http/envelope.ts';
import { isRecord, parseQuery, toFlag, toStr, type Param, type Params } from './http/params.ts';
import { LeakyBucket, OperatingTime } from './limits.ts';
import { networkFault } from './outage.ts';
import { appMethods } from './methods/app.ts';
import { offlineMethods } from './offline.ts';
import { crmMethods } from './methods/crm.ts';
import { crmWriteMethods } from './methods/crm-write.ts';
import { attachFile, checkRecordName } from './methods/recordings.ts';
import { telephonyMethods } from './methods/telephony.ts';
import type { CallContext, MethodDef, MethodResult } from './methods/types.ts';
import { userMethods } from './methods/user.ts';
import type { Portal } from './portal/portal.ts';
import type { Faults, TargetedFault } from './settings.ts';

export const methods: Record<string, MethodDef> = {
  ...telephonyMethods,
  ...crmMethods,
  ...crmWriteMethods,
  ...userMethods,
  ...appMethods,
  ...offlineMethods,
};

const BATCH_LIMIT = 50;

interface Outcome extends MethodResult {
  time: TimeInfo;
}

/** Requests under /rest/: both auth forms, limits, faults, batch and the recording upload URL. */
export class RestApi {
  readonly bucket = new LeakyBucket();
  readonly operating = new OperatingTime();

  constructor(private readonly portal: Portal) {}

  reset(): void {
    this.bucket.reset();
    this.operating.reset();
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const portal = this.portal;
    const segments = url.pathname
      .replace(/\/{2,}/g, '/')
      .split('/')
      .slice(2);
    const methodRaw = segments[segments.length - 1] ?? '';
    const method = methodRaw.replace(/\.(json|xml)$/i, '').toLowerCase();
    const log = {
      method,
      auth: null as 'oauth' | 'webhook' | null,
      batch: method === 'batch',
      commands: [method],
    };
    let commandErrors: string[] = [];
    const finishLog = (status: number, error: string | null): void => {
      portal.logRequest({
        at: new Date(portal.clock.now()).toISOString(),
        ...log,
        status,
        error,
        commandErrors,
      });
    };

    const faults = portal.faults;
    const fault = await networkFault(faults, req, res);
    if (fault) {
      finishLog(fault === 'refused' ? 0 : 503, fault);
      return;
    }
    if (
      takeTargeted(faults, 'error', [method]) ||
      (faults.errorRate > 0 && Math.random() < faults.errorRate)
    ) {
      finishLog(500, 'INTERNAL_SERVER_ERROR');
      return sendError(res, errors.internal());
    }

    try {
      if (segments.length !== 1 && segments.length !== 3) throw errors.methodNotFound();
      const { params, files } = await readParams(req, url.search.slice(1));
      const limit = faults.rateLimit ?? portal.settings.rateLimit;
      this.bucket.take(portal.clock.now(), limit.rate, limit.burst, portal.settings.countRejected);
      const auth =
        segments.length === 3
          ? authenticateWebhook(portal, segments[0] ?? '', segments[1] ?? '')
          : authenticateToken(portal, toStr(params.auth));
      log.auth = auth.kind;
      let body: unknown;
      if (method === 'upload') {
        body = this.upload(auth, url, files);
      } else if (method === 'batch') {
        const batch = await this.batch(auth, params);
        log.commands = batch.commands;
        commandErrors = batch.commandErrors;
        body = batch.body;
      } else {
        const def = methods[method];
        if (!def) throw errors.methodNotFound();
        const { time, ...rest } = await this.call(auth, method, def, params, false);
        body = { ...rest, time };
      }
      const lost =
        takeTargeted(faults, 'lostReply', [method, ...log.commands]) ||
        (faults.lostReplyRate > 0 && Math.random() < faults.lostReplyRate);
      if (lost) {
        // Processed, but the answer never arrives: the case that makes blind retries dangerous.
        req.socket.destroy();
        finishLog(0, 'reply lost');
        return;
      }
      sendJson(res, 200, body);
      finishLog(200, null);
    } catch (e) {
      const err = asRestError(e);
      sendError(res, err);
      finishLog(err.status, err.error || err.description);
    }
  }

  /** One method call with its checks: scope, auth type, operating-time budget. */
  async call(
    auth: AuthContext,
    name: string,
    def: MethodDef,
    params: Params,
    inBatch: boolean,
  ): Promise<Outcome> {
    const portal = this.portal;
    if (!hasScope(auth, def.scope)) throw errors.insufficientScope();
    if (auth.kind === 'webhook') {
      if (def.context === 'app') throw errors.wrongAuthType();
      if (def.context === 'telephony' && portal.settings.webhookTelephony === 'reject')
        throw errors.wrongAuthType();
    }
    const key = `${name}|${auth.kind === 'oauth' ? auth.app.clientId : `webhook:${auth.user.id}`}`;
    const started = portal.clock.now();
    this.operating.check(key, started, portal.settings.operatingLimitSec);
    const wallStart = performance.now();
    const ctx: CallContext = { portal, auth, now: started, inBatch };
    const outcome = await def.run(ctx, params);
    const processing = (performance.now() - wallStart) / 1000 + portal.faults.processingSec;
    const finished = portal.clock.now();
    this.operating.account(key, finished, processing);
    const time: TimeInfo = {
      ...timeInfo(started, finished, processing, portal.settings.utcOffsetMinutes),
      ...this.operating.info(key, finished),
    };
    return { ...outcome, time };
  }

  private async batch(
    auth: AuthContext,
    params: Params,
  ): Promise<{ body: unknown; commands: string[]; commandErrors: string[] }> {
    const portal = this.portal;
    const started = portal.clock.now();
    const halt = toFlag(params.halt, false);
    const cmd = params.cmd;
    const entries: [string, Param][] = Array.isArray(cmd)
      ? cmd.map((v, i) => [String(i), v])
      : isRecord(cmd)
        ? Object.entries(cmd)
        : [];
    const result = new Map<string, unknown>();
    const resultError = new Map<string, unknown>();
    const total = new Map<string, unknown>();
    const next = new Map<string, unknown>();
    const times = new Map<string, unknown>();
    // The log lists every command sent, including those a halt left unexecuted.
    const commands = entries.map(([, value]) => commandName(typeof value === 'string' ? value : ''));
    const commandErrors: string[] = [];
    const wallStart = performance.now();
    for (const [i, [key, value]] of entries.entries()) {
      const text = typeof value === 'string' ? value : '';
      const q = text.indexOf('?');
      const name = commandName(text);
      try {
        if (i >= BATCH_LIMIT) throw errors.batchLengthExceeded();
        if (name === 'batch') throw errors.batchMethodNotAllowed();
        const def = methods[name];
        if (!def) throw errors.methodNotFound();
        const sub = substitute(parseQuery(q < 0 ? '' : text.slice(q + 1)), {
          result,
          total,
          next,
          resultError,
        });
        // File uploads are excluded from batch. attachRecord by RECORD_URL uploads nothing (the
        // portal downloads it), so only its base64 and upload-URL modes count as uploads here.
        const upload = def.batch === 'upload' && !hasRecordUrl(sub);
        if (def.batch === 'never' || (upload && !portal.settings.attachRecordInBatch)) {
          throw errors.batchMethodNotAllowed();
        }
        const outcome = await this.call(auth, name, def, sub as Params, true);
        result.set(key, outcome.result);
        if (outcome.total !== undefined) total.set(key, outcome.total);
        if (outcome.next !== undefined) next.set(key, outcome.next);
        times.set(key, outcome.time);
      } catch (e) {
        const err = asRestError(e);
        resultError.set(key, { error: err.error, error_description: err.description });
        commandErrors.push(`${key}: ${err.error || err.description}`);
        if (halt) break;
      }
    }
    const finished = portal.clock.now();
    const body = {
      result: {
        result: phpSection(result),
        result_error: phpSection(resultError),
        result_total: phpSection(total),
        result_next: phpSection(next),
        result_time: phpSection(times),
      },
      time: timeInfo(
        started,
        finished,
        (performance.now() - wallStart) / 1000,
        portal.settings.utcOffsetMinutes,
      ),
    };
    return { body, commands, commandErrors };
  }

  /** The second step of attachRecord's upload mode: a multipart POST of field `file`. */
  private upload(auth: AuthContext, url: URL, files: UploadedFile[]): unknown {
    const portal = this.portal;
    if (auth.kind !== 'oauth') throw errors.wrongAuthType();
    const slot = portal.uploads.get(url.searchParams.get('token') ?? '');
    if (!slot || slot.expiresAt < portal.clock.now()) throw core('Upload token is not valid or has expired');
    const file = files.find((f) => f.field === 'file');
    if (!file) throw core('File is not uploaded. Send it as multipart/form-data field "file"');
    const filename = file.filename || slot.filename;
    checkRecordName(filename);
    const call = portal.calls.get(slot.callId);
    if (!call) throw core('Call is not found in the statistic table. Looks like it is not finished yet.');
    const stored = attachFile(portal, call, filename, file.content);
    const now = portal.clock.now();
    return { result: { FILE_ID: stored.id }, time: timeInfo(now, now, 0, portal.settings.utcOffsetMinutes) };
  }
}

/** Uses up one matching targeted fault, if any. */
function takeTargeted(faults: Faults, kind: TargetedFault['kind'], methods: string[]): boolean {
  const rule = faults.next.find(
    (r) => r.kind === kind && (r.method === undefined || methods.includes(r.method)),
  );
  if (!rule) return false;
  rule.count -= 1;
  if (rule.count <= 0) faults.next = faults.next.filter((r) => r !== rule);
  return true;
}

const commandName = (text: string): string => {
  const q = text.indexOf('?');
  return (q < 0 ? text : text.slice(0, q)).trim().toLowerCase();
};

function hasRecordUrl(params: Param): boolean {
  if (!isRecord(params)) return false;
  const entry = Object.entries(params).find(([k]) => k.toUpperCase() === 'RECORD_URL');
  return typeof entry?.[1] === 'string' && entry[1] !== '';
}

type Sections = {
  result: Map<string, unknown>;
  total: Map<string, unknown>;
  next: Map<string, unknown>;
  resultError: Map<string, unknown>;
};

const REFERENCE = /\$(result|result_error|result_total|result_next)((?:\[[^\]]*\])+)/g;

/** Replaces `$result[key][FIELD]...` in every string value with what an earlier command returned. */
function substitute(value: Param, sections: Sections): Param {
  if (typeof value === 'string') {
    if (!value.includes('$result')) return value;
    const whole = new RegExp(`^${REFERENCE.source}$`).exec(value);
    if (whole) {
      const found = resolve(whole[1] ?? '', whole[2] ?? '', sections);
      if (found !== null && typeof found === 'object') return found as Param;
    }
    return value.replace(REFERENCE, (_m, section: string, path: string) => {
      const found = resolve(section, path, sections);
      return typeof found === 'string' || typeof found === 'number' || typeof found === 'boolean'
        ? String(found)
        : '';
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, sections));
  if (isRecord(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, sections)]));
  return value;
}

function resolve(section: string, path: string, sections: Sections): unknown {
  const keys = [...path.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] ?? '');
  const map =
    section === 'result'
      ? sections.result
      : section === 'result_total'
        ? sections.total
        : section === 'result_next'
          ? sections.next
          : sections.resultError;
  let node: unknown = map.get(keys[0] ?? '');
  for (const k of keys.slice(1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[k];
  }
  return node;
}

/** Anything that is not a RestError is an emulator bug: answered as a plain 500, never a stack trace. */
export function asRestError(e: unknown): RestError {
  if (e instanceof RestError) return e;
  console.error('b24-emulator: internal error:', e);
  return errors.internal();
}
