-- Incremental matching: what else matching must know to re-place needs when things change,
-- and where a need stands once it is paused or done.
--
-- A municipality's own categories (`<code>.<slug>`) with their parents, so a need for one
-- meets resources of its parent category and the other way round (category.created).
CREATE TABLE category (
    code              TEXT PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    parent_code       TEXT NOT NULL
);

-- Which organisation each helper works for (helper.*), so that a need naming a helper the
-- resident knows prefers the resources of that helper's organisation. Ids only.
CREATE TABLE helper (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    version         BIGINT NOT NULL,
    deleted         BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX helper_organization ON helper (organization_id) WHERE NOT deleted;

-- closed: the need was completed and its place given back.
ALTER TABLE need DROP CONSTRAINT need_status_check;
ALTER TABLE need
    ADD CONSTRAINT need_status_check
        CHECK (status IN ('proposed', 'unmatched', 'awaiting_consent', 'withdrawn', 'closed')),
    -- Intake paused the need (保留): it is proposed to nobody until it resumes. A flag beside
    -- the status, so that the need resumes where it was (waiting for consent, unmatched …).
    ADD COLUMN on_hold BOOLEAN NOT NULL DEFAULT false,
    -- The intake version of the last need.status_changed applied; older ones are ignored.
    ADD COLUMN status_version BIGINT NOT NULL DEFAULT 0;

-- completed: the help was given (need.status_changed to completed); the place is free again.
ALTER TABLE proposal DROP CONSTRAINT proposal_status_known;
ALTER TABLE proposal
    ADD CONSTRAINT proposal_status_known CHECK (status IN ('awaiting_approval', 'proposed', 'accepted', 'rejected',
                                                          'expired', 'withdrawn', 'completed'));
CREATE INDEX proposal_open_by_resource ON proposal (resource_id)
    WHERE status IN ('awaiting_approval', 'proposed', 'accepted');
