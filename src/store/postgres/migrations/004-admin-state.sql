-- The admin UI's shared state, as in SQLite (src/store/sqlite/migrations/006-admin-state.sql):
-- named settings with a revision, and admin sessions by the digest of their id.
CREATE TABLE admin_settings (
  key        TEXT PRIMARY KEY,
  value      JSONB NOT NULL,
  revision   BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE admin_sessions (
  digest     TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);

CREATE INDEX admin_sessions_created ON admin_sessions (created_at);
