-- The call journal: what happened to each call, for the people who ask afterwards. A summary row
-- per call (searched by number, user, line and time) and its timeline of entries. Kept for the
-- configured retention (journal.retentionDays), then swept.
CREATE TABLE journal_calls (
  portal_id        TEXT NOT NULL,
  call_key         TEXT NOT NULL,
  pbx_call_id      TEXT NOT NULL,
  direction        TEXT NOT NULL,
  phone_number     TEXT NOT NULL,
  called_number    TEXT NOT NULL,
  line_id          TEXT NOT NULL,
  user_id          INTEGER,
  started_at       INTEGER NOT NULL,
  answered_at      INTEGER,
  ended_at         INTEGER,
  outcome          TEXT NOT NULL,
  end_reason       TEXT,
  card_latency_ms  INTEGER,
  crm_entity_type  TEXT,
  crm_entity_id    INTEGER,
  activity_id      TEXT,
  recording        TEXT,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (portal_id, call_key)
);

CREATE INDEX journal_calls_started ON journal_calls (started_at);
CREATE INDEX journal_calls_key ON journal_calls (call_key);
CREATE INDEX journal_calls_user ON journal_calls (user_id, started_at);
CREATE INDEX journal_calls_line ON journal_calls (line_id, started_at);

CREATE TABLE journal_entries (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  portal_id    TEXT NOT NULL,
  call_key     TEXT NOT NULL,
  at           INTEGER NOT NULL,
  recorded_at  INTEGER NOT NULL,
  kind         TEXT NOT NULL,
  summary      TEXT NOT NULL,
  detail       TEXT
);

CREATE INDEX journal_entries_call ON journal_entries (portal_id, call_key, id);
CREATE INDEX journal_entries_recorded ON journal_entries (recorded_at);
