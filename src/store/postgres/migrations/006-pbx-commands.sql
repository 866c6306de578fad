-- Commands for a PBX whose connection another instance holds (the AMI leader): an instance that
-- decides a command (a click-to-call, a transfer) queues it here, and the holder takes each once.
CREATE TABLE pbx_commands (
  id         BIGSERIAL PRIMARY KEY,
  pbx_id     TEXT NOT NULL,
  command    JSONB NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE INDEX pbx_commands_pbx ON pbx_commands (pbx_id, id);
