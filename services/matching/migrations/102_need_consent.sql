-- Intake shares a need with matching only under the resident's consent. A need without it is
-- counted (gap map) but proposed to nobody until consent arrives (need.updated); a need whose
-- consent is withdrawn, or that is cancelled, leaves matching (need.withdrawn) and gives
-- back the capacity its open proposal held.
ALTER TABLE need DROP CONSTRAINT need_status_check;
ALTER TABLE need
    ADD CONSTRAINT need_status_check CHECK (status IN ('proposed', 'unmatched', 'awaiting_consent', 'withdrawn')),
    -- The intake version last applied; older events are ignored.
    ADD COLUMN version BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN resident_id UUID;
ALTER TABLE proposal ADD COLUMN withdrawn_at TIMESTAMPTZ;
