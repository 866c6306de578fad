-- The CRM phone index, as in SQLite (src/store/sqlite/migrations/004-crm-phone-index.sql): a
-- caller's number, the CRM record it belongs to and the manager responsible for that record.
CREATE TABLE crm_phone_index (
  portal_id      TEXT NOT NULL,
  phone          TEXT NOT NULL,
  entity_type    TEXT NOT NULL,
  entity_id      BIGINT NOT NULL,
  responsible_id BIGINT NOT NULL,
  timeman_status TEXT,
  verified_at    BIGINT NOT NULL,
  PRIMARY KEY (portal_id, phone)
);

CREATE INDEX crm_phone_index_entity ON crm_phone_index (portal_id, entity_type, entity_id);
CREATE INDEX crm_phone_index_verified ON crm_phone_index (portal_id, verified_at);
