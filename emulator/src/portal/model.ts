/** The emulated portal's records. Field names follow Bitrix24's where they are visible through REST. */

export type TimemanStatus = 'OPENED' | 'CLOSED' | 'PAUSED' | 'EXPIRED' | 'UNAVAILABLE' | 'NOT_INSTALLED';

export interface User {
  id: number;
  name: string;
  lastName: string;
  email: string;
  active: boolean;
  admin: boolean;
  /** UF_PHONE_INNER: the user's internal number. */
  extension: string | null;
  isOnline: boolean;
  workPhone: string;
  personalPhone: string;
  personalMobile: string;
  departments: number[];
  timemanStatus: TimemanStatus;
}

export type CrmEntityType = 'CONTACT' | 'COMPANY' | 'LEAD';

/** OWNER_TYPE_ID values of CRM entities (spec §6.3). */
export const ownerTypeId = { LEAD: 1, DEAL: 2, CONTACT: 3, COMPANY: 4 } as const;

export interface CrmPhone {
  id: number;
  value: string;
  valueType: string;
}

export interface CrmEntity {
  type: CrmEntityType;
  id: number;
  /** Contacts and leads: person name; companies and leads: title. */
  name: string;
  lastName: string;
  title: string;
  phones: CrmPhone[];
  assignedById: number;
  companyId: number | null;
  sourceId: string | null;
  statusId: string | null;
  createdAt: number;
  modifiedAt: number;
  /** Set on leads created by `register` so `finish` can hand them to the finishing user. */
  createdByCallId: string | null;
}

export interface Deal {
  id: number;
  title: string;
  contactId: number | null;
  companyId: number | null;
  assignedById: number;
  stageId: string;
  closed: boolean;
  createdAt: number;
}

export interface Activity {
  id: number;
  ownerType: CrmEntityType;
  ownerId: number;
  bindings: { ownerTypeId: number; ownerId: number }[];
  direction: 1 | 2;
  providerTypeId: 'CALL' | 'CALLBACK';
  subject: string;
  startTime: number;
  endTime: number;
  completed: boolean;
  missed: boolean;
  responsibleId: number;
  originId: string;
  phoneNumber: string;
  storageElementIds: number[];
  createdAt: number;
}

export interface Recording {
  fileId: number;
  filename: string;
  size: number;
  sha256: string;
  at: number;
  /** The RECORD_URL it was downloaded from; null for an uploaded file. */
  sourceUrl: string | null;
}

export interface Call {
  callId: string;
  appId: number;
  externalCallId: string | null;
  userId: number;
  phoneNumber: string;
  type: number;
  lineNumber: string | null;
  startDate: number;
  registeredAt: number;
  callListId: number | null;
  shown: boolean;
  internal: boolean;
  crmEntityType: CrmEntityType | null;
  crmEntityId: number | null;
  createdLeadId: number | null;
  finished: boolean;
  finishedAt: number | null;
  finishedBy: number | null;
  statusCode: string | null;
  duration: number | null;
  crmActivityId: number | null;
  statisticId: number | null;
  vote: number;
  cost: number;
  costCurrency: string;
  failedReason: string;
  recordings: Recording[];
}

export interface Line {
  id: number;
  appId: number;
  number: string;
  name: string;
  crmAutoCreate: 'Y' | 'N';
}

/** An application installed on the portal (OAuth). Webhooks act as pseudo-apps with id 0. */
export interface App {
  id: number;
  clientId: string;
  clientSecret: string;
  name: string;
  code: string;
  version: string;
  scopes: string[];
  installUrl: string | null;
  installedBy: number;
  installed: boolean;
  applicationToken: string;
  status: 'L' | 'F' | 'D' | 'T' | 'P';
}

export interface AccessToken {
  token: string;
  appId: number;
  userId: number;
  issuedAt: number;
  expiresAt: number;
  revoked: boolean;
}

export interface RefreshToken {
  token: string;
  appId: number;
  userId: number;
  expiresAt: number;
}

export interface Binding {
  id: number;
  appId: number;
  event: string;
  handler: string;
  authType: number;
  offline: 0 | 1;
  /** ONOFFLINEEVENT: at most one notification per this many seconds (`options[minTimeout]`). */
  minTimeout?: number;
}

export interface Webhook {
  userId: number;
  secret: string;
  /** null: every scope. */
  scopes: string[] | null;
}

export interface StoredFile {
  id: number;
  filename: string;
  size: number;
  sha256: string;
  callId: string;
}

export interface Card {
  userId: number;
  callId: string;
  phoneNumber: string;
  since: number;
}

export interface CardLogEntry {
  at: number;
  action: 'show' | 'hide';
  userId: number;
  callId: string;
  phoneNumber: string;
}

export interface RequestLogEntry {
  at: string;
  method: string;
  auth: 'oauth' | 'webhook' | null;
  batch: boolean;
  commands: string[];
  status: number;
  error: string | null;
  /** Per-command failures of a batch, as `key: code`. */
  commandErrors: string[];
}

export interface DeliveryLogEntry {
  at: string;
  event: string;
  handler: string;
  appId: number;
  status: number | null;
  error: string | null;
  durationMs: number;
}

export interface UploadSlot {
  token: string;
  callId: string;
  filename: string;
  expiresAt: number;
}
