-- Freshness: the edit date and the verified date are kept apart — "last updated" is not
-- "last verified" — so coordinators can find what nobody has confirmed for a while.
ALTER TABLE resource
    ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN verified_at TIMESTAMPTZ,
    ADD COLUMN verified_by TEXT,
    ADD CONSTRAINT resource_verification_complete CHECK ((verified_at IS NULL) = (verified_by IS NULL));
CREATE INDEX resource_verification ON resource (municipality_code, verified_at NULLS FIRST, id);
