-- Recordings the PBX handed the bridge, in the database so every instance serves them (the portal's
-- download may reach any instance behind the balancer). A portal's recordings are found by a keyed
-- digest of its member_id, as the file store names its folders; the key is made once, here.
CREATE TABLE recording_secret (
  id     INTEGER PRIMARY KEY CHECK (id = 1),
  secret BYTEA NOT NULL
);

CREATE TABLE recordings (
  ref        TEXT PRIMARY KEY,
  portal_key TEXT NOT NULL,
  filename   TEXT,
  content    BYTEA NOT NULL,
  stored_at  BIGINT NOT NULL
);

CREATE INDEX recordings_portal ON recordings (portal_key);
CREATE INDEX recordings_stored ON recordings (stored_at);
