-- The engine revision (several instances on one store follow each other's steps): every committed step adds one to the portal's revision and stamps
-- the shards it wrote, so a step computed from an older state is refused rather than stored over a
-- newer one, and a reader can fetch only the shards changed since the revision it knows.
ALTER TABLE engine_meta ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE engine_shards ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
