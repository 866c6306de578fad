-- What the admin UI changes, shared by every instance on the store: named settings (the edited
-- lines and queues) with a revision each, so other instances see an edit; and the logged-in admin
-- sessions, by the digest of their id (a reader of the database cannot take one over).
CREATE TABLE admin_settings (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  revision   INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE admin_sessions (
  digest     TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);

CREATE INDEX admin_sessions_created ON admin_sessions (created_at);
