import { command } from '../methods.ts';
import { bool, int, ints, list, obj, str, strOrNull, type Json } from '../parse.ts';
import type { Pending } from '../pending.ts';
import type { SubmitOptions } from '../queue.ts';
import type { Submit } from './submit.ts';

/** `user.get` with its paging (spec §6.4), typed. */

export interface PortalUser {
  id: number;
  active: boolean;
  name: string;
  lastName: string;
  email: string;
  isOnline: boolean;
  /** UF_PHONE_INNER: the user's internal number, how the bridge maps extensions to users. */
  extension: string | null;
  workPhone: string;
  personalMobile: string;
  departments: number[];
  userType: string;
  raw: Json;
}

interface UserQuery {
  /** Any user field with Bitrix operators (`UF_PHONE_INNER`, `ACTIVE`, `!ID`, `%NAME`…). */
  filter?: Readonly<Record<string, string | number | boolean | readonly (string | number)[]>>;
  sort?: string;
  order?: 'ASC' | 'DESC';
  select?: readonly string[];
  adminMode?: boolean;
}

interface UserPage {
  users: PortalUser[];
  total: number | undefined;
  /** `start` of the next page; undefined on the last. */
  next: number | undefined;
}

function parseUser(v: unknown): PortalUser {
  const r = obj(v);
  const ext = strOrNull(r.UF_PHONE_INNER);
  return {
    id: int(r.ID),
    active: bool(r.ACTIVE),
    name: str(r.NAME),
    lastName: str(r.LAST_NAME),
    email: str(r.EMAIL),
    isOnline: bool(r.IS_ONLINE),
    extension: ext === null || ext.trim() === '' ? null : ext.trim(),
    workPhone: str(r.WORK_PHONE),
    personalMobile: str(r.PERSONAL_MOBILE),
    departments: ints(r.UF_DEPARTMENT),
    userType: str(r.USER_TYPE),
    raw: r,
  };
}

export class UserApi {
  constructor(private readonly submit: Submit) {}

  /** One page of 50 from `start` (0 for the first). */
  get(query: UserQuery = {}, start = 0, options?: SubmitOptions): Pending<UserPage> {
    return this.submit(
      command('user.get', {
        FILTER: query.filter,
        SORT: query.sort,
        ORDER: query.order,
        SELECT: query.select,
        ADMIN_MODE: query.adminMode,
        start,
      }),
      options,
      (raw) => ({ users: list(raw.result).map(parseUser), total: raw.total, next: raw.next }),
    );
  }

  /** Every page, one request after the other (reads take the lowest lane). */
  async all(query: UserQuery = {}, options?: SubmitOptions): Promise<PortalUser[]> {
    const users: PortalUser[] = [];
    let start: number | undefined = 0;
    while (start !== undefined) {
      const page: UserPage = await this.get(query, start, options);
      users.push(...page.users);
      // A portal that repeats a `next` would loop forever; it has to move forward.
      start = page.next !== undefined && page.next > start ? page.next : undefined;
    }
    return users;
  }

  /** Whether the token's user may change the portal's settings: a portal administrator. */
  admin(options?: SubmitOptions): Pending<boolean> {
    // Only a JSON true makes an administrator: nothing else the portal might answer counts.
    return this.submit(command('user.admin', {}), options, (raw) => raw.result === true);
  }

  /** The user the bridge acts as (`user.current`): who installed the app, or whose webhook it is. */
  current(options?: SubmitOptions): Pending<PortalUser> {
    return this.submit(command('user.current', {}), options, (raw) => parseUser(raw.result));
  }

  /** The active user with this extension, or null. */
  async byExtension(extension: string, options?: SubmitOptions): Promise<PortalUser | null> {
    const page = await this.get({ filter: { UF_PHONE_INNER: extension, ACTIVE: true } }, 0, options);
    return page.users.find((u) => u.extension === extension.trim()) ?? null;
  }
}
