import { command } from '../methods.ts';
import { badShape, bool, int, intOrNull, list, obj, str, type Json } from '../parse.ts';
import type { Pending } from '../pending.ts';
import type { SubmitOptions } from '../queue.ts';
import type { Submit } from './submit.ts';

/** `event.bind/unbind/get` (spec §4) and `app.info`, typed. */

interface EventBinding {
  event: string;
  handler: string;
  authType?: number;
  eventType?: 'online' | 'offline';
}

interface BoundHandler {
  /** Upper-case, as the portal returns it. */
  event: string;
  handler: string;
  authType: number;
  offline: boolean;
}

export class EventApi {
  constructor(private readonly submit: Submit) {}

  bind(b: EventBinding, options?: SubmitOptions): Pending<true> {
    return this.submit(
      command('event.bind', {
        event: b.event,
        handler: b.handler,
        auth_type: b.authType,
        event_type: b.eventType,
      }),
      options,
      (raw) => {
        if (raw.result !== true) throw badShape('event.bind', 'not true');
        return true as const;
      },
    );
  }

  /** How many handlers were removed. */
  unbind(b: EventBinding, options?: SubmitOptions): Pending<number> {
    return this.submit(
      command('event.unbind', {
        event: b.event,
        handler: b.handler,
        auth_type: b.authType,
        event_type: b.eventType,
      }),
      options,
      (raw) => int(obj(raw.result).count),
    );
  }

  /** Asks the portal to send ONAPPTEST to the app's handlers (can the portal reach us?). */
  test(options?: SubmitOptions): Pending<true> {
    return this.submit(command('event.test', {}), options, (raw) => {
      if (raw.result !== true) throw badShape('event.test', 'not true');
      return true as const;
    });
  }

  get(options?: SubmitOptions): Pending<BoundHandler[]> {
    return this.submit(command('event.get', {}), options, (raw) =>
      list(raw.result).map((h) => {
        const r = obj(h);
        return {
          event: str(r.event).toUpperCase(),
          handler: str(r.handler),
          authType: int(r.auth_type),
          offline: bool(r.offline),
        };
      }),
    );
  }
}

interface AppInfo {
  id: number | null;
  code: string;
  version: string;
  /** L local, F free, D demo, T trial, P paid. */
  status: string;
  /** False until the installer finished: no events are delivered before that. */
  installed: boolean;
  paymentExpired: boolean;
  days: number | null;
  languageId: string;
  license: string;
  raw: Json;
}

export class AppApi {
  constructor(private readonly submit: Submit) {}

  info(options?: SubmitOptions): Pending<AppInfo> {
    return this.submit(command('app.info', {}), options, (raw) => {
      const r = obj(raw.result);
      return {
        id: intOrNull(r.ID),
        code: str(r.CODE),
        version: str(r.VERSION),
        status: str(r.STATUS),
        installed: bool(r.INSTALLED),
        paymentExpired: bool(r.PAYMENT_EXPIRED),
        days: intOrNull(r.DAYS),
        languageId: str(r.LANGUAGE_ID),
        license: str(r.LICENSE),
        raw: r,
      };
    });
  }
}
