-- The install's application_token: every event of the portal carries it, and an event whose token
-- differs from the stored one is forged.
ALTER TABLE portals ADD COLUMN application_token TEXT;
