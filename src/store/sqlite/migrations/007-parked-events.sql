-- Events of a PBX the bridge connects to itself (Asterisk over AMI) that arrived while no portal
-- was installed to take them: kept in order, at most pbx[].ami.maxParkedEvents a PBX (the oldest
-- go first), and fed to the portal's outbox once one is installed.
CREATE TABLE parked_events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  pbx_id     TEXT NOT NULL,
  event      TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE INDEX parked_events_pbx ON parked_events (pbx_id, id);
