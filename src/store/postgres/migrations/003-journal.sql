-- The call journal, as in SQLite (src/store/sqlite/migrations/005-journal.sql): a summary row per
-- call and its timeline of entries, kept for journal.retentionDays.
CREATE TABLE journal_calls (
  portal_id        TEXT NOT NULL,
  call_key         TEXT NOT NULL,
  pbx_call_id      TEXT NOT NULL,
  direction        TEXT NOT NULL,
  phone_number     TEXT NOT NULL,
  called_number    TEXT NOT NULL,
  line_id          TEXT NOT NULL,
  user_id          BIGINT,
  started_at       BIGINT NOT NULL,
  answered_at      BIGINT,
  ended_at         BIGINT,
  outcome          TEXT NOT NULL,
  end_reason       TEXT,
  card_latency_ms  BIGINT,
  crm_entity_type  TEXT,
  crm_entity_id    BIGINT,
  activity_id      TEXT,
  recording        TEXT,
  updated_at       BIGINT NOT NULL,
  PRIMARY KEY (portal_id, call_key)
);

CREATE INDEX journal_calls_started ON journal_calls (started_at);
CREATE INDEX journal_calls_key ON journal_calls (call_key);
CREATE INDEX journal_calls_user ON journal_calls (user_id, started_at);
CREATE INDEX journal_calls_line ON journal_calls (line_id, started_at);

CREATE TABLE journal_entries (
  id           BIGSERIAL PRIMARY KEY,
  portal_id    TEXT NOT NULL,
  call_key     TEXT NOT NULL,
  at           BIGINT NOT NULL,
  recorded_at  BIGINT NOT NULL,
  kind         TEXT NOT NULL,
  summary      TEXT NOT NULL,
  detail       JSONB
);

CREATE INDEX journal_entries_call ON journal_entries (portal_id, call_key, id);
CREATE INDEX journal_entries_recorded ON journal_entries (recorded_at);
