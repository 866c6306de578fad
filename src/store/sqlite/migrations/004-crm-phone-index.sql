-- The CRM phone index: a caller's number, the CRM record it belongs to and the manager responsible
-- for that record, per portal. A known caller is routed from it without waiting for the portal.
CREATE TABLE crm_phone_index (
  portal_id      TEXT NOT NULL,
  phone          TEXT NOT NULL,
  entity_type    TEXT NOT NULL,
  entity_id      INTEGER NOT NULL,
  responsible_id INTEGER NOT NULL,
  timeman_status TEXT,
  verified_at    INTEGER NOT NULL,
  PRIMARY KEY (portal_id, phone)
);

-- A CRM change event names the record, not its numbers.
CREATE INDEX crm_phone_index_entity ON crm_phone_index (portal_id, entity_type, entity_id);
-- The reconcile confirms the oldest records first.
CREATE INDEX crm_phone_index_verified ON crm_phone_index (portal_id, verified_at);
