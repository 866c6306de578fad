-- Portals, their OAuth tokens, the engine state of live calls, the input journal and the outbox,
-- as in SQLite (src/store/sqlite/migrations), plus what several instances share: call leases
-- and the portal's request bucket. Times are epoch milliseconds (BIGINT); JSON is JSONB.

CREATE TABLE portals (
  member_id         TEXT PRIMARY KEY,
  domain            TEXT,
  client_endpoint   TEXT,
  auth_kind         TEXT NOT NULL CHECK (auth_kind IN ('oauth', 'webhook')),
  webhook_url       TEXT,
  application_token TEXT,
  created_at        BIGINT NOT NULL,
  updated_at        BIGINT NOT NULL
);

-- Kept apart from portals: the client saves tokens on every refresh, before or without a portal row.
CREATE TABLE portal_tokens (
  member_id  TEXT PRIMARY KEY,
  tokens     JSONB NOT NULL,
  updated_at BIGINT NOT NULL
);

-- One row per portal; its row lock orders the steps of all instances (see commitStep).
CREATE TABLE engine_meta (
  portal_id  TEXT PRIMARY KEY,
  version    INTEGER NOT NULL,
  seq        BIGINT NOT NULL,
  revision   BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL
);

CREATE TABLE engine_shards (
  portal_id  TEXT NOT NULL,
  shard      TEXT NOT NULL,
  calls      JSONB NOT NULL,
  revision   BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (portal_id, shard)
);

CREATE TABLE inputs (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  portal_id   TEXT NOT NULL,
  dedupe_key  TEXT,
  type        TEXT NOT NULL,
  payload     JSONB NOT NULL,
  received_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX inputs_dedupe ON inputs (portal_id, dedupe_key) WHERE dedupe_key IS NOT NULL;

CREATE TABLE outbox_entries (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  portal_id       TEXT NOT NULL,
  call_key        TEXT NOT NULL,
  op_id           TEXT NOT NULL,
  seq             INTEGER NOT NULL,
  lane            TEXT NOT NULL CHECK (lane IN ('card', 'log', 'read')),
  kind            TEXT NOT NULL,
  payload         JSONB NOT NULL,
  status          TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'in_flight', 'done', 'dropped', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  last_error      TEXT,
  note            TEXT,
  result          JSONB,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  UNIQUE (portal_id, op_id)
);
CREATE INDEX outbox_open ON outbox_entries (portal_id, call_key)
  WHERE status IN ('pending', 'in_flight');
CREATE INDEX outbox_call ON outbox_entries (portal_id, call_key, seq);

-- Who delivers a call: one row per call that ever had an entry. An instance claims whole calls
-- (FOR UPDATE SKIP LOCKED), so a call's operations leave from one instance, in order; a lease
-- not renewed (the instance died) lets another instance take the call over.
CREATE TABLE outbox_calls (
  portal_id   TEXT NOT NULL,
  call_key    TEXT NOT NULL,
  claimed_by  TEXT,
  lease_until BIGINT,
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (portal_id, call_key)
);
CREATE INDEX outbox_calls_claimed ON outbox_calls (portal_id, claimed_by) WHERE claimed_by IS NOT NULL;

-- The portal's leaky bucket as all instances fill it (level drains at the portal's rate), on the
-- database's clock.
CREATE TABLE rate_buckets (
  member_id  TEXT PRIMARY KEY,
  level      DOUBLE PRECISION NOT NULL,
  updated_at DOUBLE PRECISION NOT NULL
);
