-- Events of a PBX the bridge connects to itself that arrived while no portal was installed, as in
-- SQLite (src/store/sqlite/migrations/007-parked-events.sql): in order, bounded a PBX, fed to the
-- portal's outbox once one is installed.
CREATE TABLE parked_events (
  id         BIGSERIAL PRIMARY KEY,
  pbx_id     TEXT NOT NULL,
  event      JSONB NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE INDEX parked_events_pbx ON parked_events (pbx_id, id);
