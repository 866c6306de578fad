import { readFileSync } from 'node:fs';
import type { Settings } from '../settings.ts';
import type { TimemanStatus } from './model.ts';

/** A portal's starting content: the file format of `--seed FILE` (JSON). */
export interface Seed {
  memberId?: string;
  settings?: Partial<Settings>;
  users: SeedUser[];
  contacts?: SeedEntity[];
  companies?: SeedEntity[];
  leads?: SeedEntity[];
  deals?: SeedDeal[];
  webhooks?: { userId: number; secret: string; scopes?: string[] | null }[];
}

export interface SeedUser {
  id: number;
  name: string;
  lastName?: string;
  email?: string;
  extension?: string | null;
  active?: boolean;
  admin?: boolean;
  isOnline?: boolean;
  workPhone?: string;
  personalMobile?: string;
  departments?: number[];
  timemanStatus?: TimemanStatus;
}

export interface SeedEntity {
  id: number;
  name?: string;
  lastName?: string;
  title?: string;
  phones: string[];
  assignedById: number;
  companyId?: number | null;
}

export interface SeedDeal {
  id: number;
  title: string;
  contactId?: number | null;
  companyId?: number | null;
  assignedById: number;
  stageId?: string;
  closed?: boolean;
}

/** The default portal used by the demo and the tests. Its ids, names and numbers are a public contract. */
export const defaultSeed = (): Seed => ({
  memberId: 'emulator-member-1',
  users: [
    { id: 1, name: 'Admin', lastName: '', extension: '100', admin: true, email: 'admin@example.com' },
    { id: 2, name: 'Anna', lastName: 'Ivanova', extension: '101', email: 'anna@example.com' },
    { id: 3, name: 'Boris', lastName: 'Smirnov', extension: '102', email: 'boris@example.com' },
    { id: 4, name: 'Chen', lastName: 'Wei', extension: '103', email: 'chen@example.com' },
    {
      id: 5,
      name: 'Dmitri',
      lastName: 'Orlov',
      extension: '104',
      active: false,
      email: 'dmitri@example.com',
    },
    { id: 6, name: 'Elena', lastName: 'Kuznetsova', extension: null, email: 'elena@example.com' },
  ],
  contacts: [{ id: 1, name: 'Ivan', lastName: 'Petrov', phones: ['+79161234567'], assignedById: 3 }],
  companies: [{ id: 1, title: 'Romashka LLC', phones: ['+74951112233'], assignedById: 4 }],
  leads: [{ id: 1, title: 'Lead +79031112233', phones: ['+79031112233'], assignedById: 2 }],
  deals: [{ id: 1, title: 'Deal with Ivan Petrov', contactId: 1, assignedById: 3, stageId: 'NEW' }],
  webhooks: [{ userId: 1, secret: 'emulator', scopes: null }],
});

export class SeedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SeedError';
  }
}

export function loadSeedFile(path: string): Seed {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new SeedError(`cannot read seed file ${path}`, { cause });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new SeedError(`seed file ${path} is not valid JSON`, { cause });
  }
  return validateSeed(data, path);
}

/** Checks the shape that the portal relies on, with a message naming the offending entry. */
export function validateSeed(data: unknown, where = 'seed'): Seed {
  const fail = (msg: string): never => {
    throw new SeedError(`${where}: ${msg}`);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return fail('must be a JSON object');
  const seed = data as Record<string, unknown>;
  if (!Array.isArray(seed.users) || seed.users.length === 0) return fail('"users" must be a non-empty array');
  const ids = new Set<number>();
  seed.users.forEach((u: unknown, i) => {
    const user = u as Record<string, unknown> | null;
    if (!user || !Number.isInteger(user.id) || (user.id as number) <= 0)
      fail(`users[${i}].id must be a positive integer`);
    if (typeof user?.name !== 'string') fail(`users[${i}].name must be a string`);
    if (ids.has(user?.id as number)) fail(`users[${i}].id ${String(user?.id)} is used twice`);
    ids.add(user?.id as number);
  });
  for (const kind of ['contacts', 'companies', 'leads'] as const) {
    const list = seed[kind];
    if (list === undefined) continue;
    if (!Array.isArray(list)) return fail(`"${kind}" must be an array`);
    list.forEach((e: unknown, i) => {
      const entity = e as Record<string, unknown> | null;
      if (!entity || !Number.isInteger(entity.id)) fail(`${kind}[${i}].id must be an integer`);
      if (!Array.isArray(entity?.phones)) fail(`${kind}[${i}].phones must be an array of strings`);
      if (!Number.isInteger(entity?.assignedById)) fail(`${kind}[${i}].assignedById must be a user id`);
    });
  }
  if (seed.deals !== undefined && !Array.isArray(seed.deals)) return fail('"deals" must be an array');
  if (seed.webhooks !== undefined && !Array.isArray(seed.webhooks))
    return fail('"webhooks" must be an array');
  return seed as unknown as Seed;
}
