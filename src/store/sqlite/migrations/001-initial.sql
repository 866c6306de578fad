-- Portals, their OAuth tokens, the engine state of live calls, the input journal and the outbox.
-- Times are epoch milliseconds (INTEGER); JSON is TEXT.

CREATE TABLE portals (
  member_id       TEXT PRIMARY KEY,
  domain          TEXT,
  client_endpoint TEXT,
  auth_kind       TEXT NOT NULL CHECK (auth_kind IN ('oauth', 'webhook')),
  webhook_url     TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);

-- Kept apart from portals: the client saves tokens on every refresh, before or without a portal row.
CREATE TABLE portal_tokens (
  member_id  TEXT PRIMARY KEY,
  tokens     TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE engine_meta (
  portal_id  TEXT PRIMARY KEY,
  version    INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- One row per engine shard (256 per portal at most): a step rewrites the one shard it changed.
CREATE TABLE engine_shards (
  portal_id  TEXT NOT NULL,
  shard      TEXT NOT NULL,
  calls      TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (portal_id, shard)
) WITHOUT ROWID;

CREATE TABLE inputs (
  id          INTEGER PRIMARY KEY,
  portal_id   TEXT NOT NULL,
  dedupe_key  TEXT,
  type        TEXT NOT NULL,
  payload     TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX inputs_dedupe ON inputs (portal_id, dedupe_key) WHERE dedupe_key IS NOT NULL;

CREATE TABLE outbox_entries (
  id              INTEGER PRIMARY KEY,
  portal_id       TEXT NOT NULL,
  call_key        TEXT NOT NULL,
  op_id           TEXT NOT NULL,
  seq             INTEGER NOT NULL,
  lane            TEXT NOT NULL CHECK (lane IN ('card', 'log', 'read')),
  kind            TEXT NOT NULL,
  payload         TEXT NOT NULL,
  status          TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'in_flight', 'done', 'dropped', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  note            TEXT,
  result          TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (portal_id, op_id)
);
-- The open entries are few; the done ones pile up. Partial index: the planner's query stays small.
CREATE INDEX outbox_open ON outbox_entries (portal_id, call_key)
  WHERE status IN ('pending', 'in_flight');
CREATE INDEX outbox_call ON outbox_entries (portal_id, call_key, seq);
