import type { WireParams } from '../encode.ts';
import { command, type Command } from '../methods.ts';
import type { Pending } from '../pending.ts';
import type { RawResult, SubmitOptions } from '../queue.ts';
import { AppApi, EventApi } from './app.ts';
import { CrmApi } from './crm.ts';
import type { Submit } from './submit.ts';
import { ExternalCallApi, ExternalLineApi } from './telephony.ts';
import { UserApi } from './user.ts';

/** Everything the bridge calls on one portal, named as Bitrix24 names it. */
export class PortalApi {
  readonly externalCall: ExternalCallApi;
  readonly externalLine: ExternalLineApi;
  readonly crm: CrmApi;
  readonly user: UserApi;
  readonly event: EventApi;
  readonly app: AppApi;

  constructor(
    readonly memberId: string,
    private readonly submit: Submit,
  ) {
    this.externalCall = new ExternalCallApi(submit);
    this.externalLine = new ExternalLineApi(submit);
    this.crm = new CrmApi(submit);
    this.user = new UserApi(submit);
    this.event = new EventApi(submit);
    this.app = new AppApi(submit);
  }

  /**
   * Any method, untyped. Methods the client does not know go in the read lane and are not repeated
   * after a failure that may have reached the portal.
   */
  call(method: string, params: WireParams = {}, options?: SubmitOptions): Pending<RawResult> {
    return this.submit(command(method, params), options, (raw) => raw);
  }

  /** A prepared command (see `command()` in methods.ts), for callers that set traits themselves. */
  send(cmd: Command, options?: SubmitOptions): Pending<RawResult> {
    return this.submit(cmd, options, (raw) => raw);
  }
}
