-- The need lifecycle (domain.md §8): every status, the reason and outcome of the last change,
-- a version for consumers, and a history row per transition with who made it and why.
ALTER TABLE need
    ADD COLUMN version BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN outcome TEXT,
    ADD COLUMN status_reason TEXT NOT NULL DEFAULT '',
    ADD COLUMN status_changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD CONSTRAINT need_status_known CHECK (status IN ('draft', 'submitted', 'matching', 'proposed', 'accepted',
        'in_progress', 'on_hold', 'completed', 'cancelled', 'failed', 'entered_in_error')),
    ADD CONSTRAINT need_closed_has_outcome CHECK (
        (status IN ('completed', 'cancelled', 'failed')) = (outcome IS NOT NULL));
-- Open needs by how long they have waited, for the follow-up list.
CREATE INDEX need_idle ON need (municipality_code, status_changed_at)
    WHERE status NOT IN ('completed', 'cancelled', 'failed', 'entered_in_error');

ALTER TABLE need_status_history
    ADD COLUMN id UUID,
    ADD COLUMN from_status TEXT,
    ADD COLUMN reason TEXT NOT NULL DEFAULT '',
    ADD COLUMN outcome TEXT,
    ADD COLUMN changed_by TEXT NOT NULL DEFAULT '',
    ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
UPDATE need_status_history SET id = gen_random_uuid() WHERE id IS NULL;
ALTER TABLE need_status_history ALTER COLUMN id SET NOT NULL;
