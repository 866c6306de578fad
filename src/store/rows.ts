/**
 * The tables' rows as both stores read them, and how they become the store's records. The two
 * databases differ only in how JSON comes back (SQLite: text; PostgreSQL: already parsed JSONB),
 * so that is the one thing each store passes in.
 */
import type { Sealer } from './sealer.ts';
import type { CallerRecord, OutboxEntry, PortalRecord } from './types.ts';

export interface EntryRow<Json> {
  id: number;
  portal_id: string;
  call_key: string;
  op_id: string;
  seq: number;
  lane: OutboxEntry['lane'];
  kind: OutboxEntry['kind'];
  payload: Json;
  status: OutboxEntry['status'];
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  note: string | null;
  result: Json | null;
  created_at: number;
  updated_at: number;
}

export interface PortalRow {
  member_id: string;
  domain: string | null;
  client_endpoint: string | null;
  auth_kind: PortalRecord['authKind'];
  webhook_url: string | null;
  application_token: string | null;
}

export const toEntry = <Json>(r: EntryRow<Json>, decode: (v: Json | null) => unknown): OutboxEntry => ({
  id: r.id,
  portalId: r.portal_id,
  callKey: r.call_key,
  opId: r.op_id,
  seq: r.seq,
  lane: r.lane,
  kind: r.kind,
  payload: decode(r.payload),
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  note: r.note,
  result: decode(r.result),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** The portal's secrets come back unsealed. */
export const toPortal = (r: PortalRow, sealer: Sealer): PortalRecord => ({
  memberId: r.member_id,
  domain: r.domain,
  clientEndpoint: r.client_endpoint,
  authKind: r.auth_kind,
  webhookUrl: r.webhook_url === null ? null : sealer.open(r.webhook_url),
  applicationToken: r.application_token === null ? null : sealer.open(r.application_token),
});

export interface CallerRow {
  phone: string;
  entity_type: string;
  entity_id: number;
  responsible_id: number;
  timeman_status: string | null;
  verified_at: number;
}

export const toCaller = (r: CallerRow): CallerRecord => ({
  phone: r.phone,
  entityType: r.entity_type,
  entityId: r.entity_id,
  responsibleId: r.responsible_id,
  timemanStatus: r.timeman_status,
  verifiedAt: r.verified_at,
});
