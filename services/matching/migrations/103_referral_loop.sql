-- The referral loop (domain.md §8): a proposal may wait for a coordinator's approval, is then
-- sent to the provider, who accepts or rejects it with a reason; an unanswered one expires.
-- A rejected or expired proposal releases its capacity, and the need is matched again without
-- the resources that declined it. At most one proposal of a need is open at a time.
ALTER TABLE proposal DROP CONSTRAINT proposal_need_id_key;
ALTER TABLE proposal
    ADD CONSTRAINT proposal_status_known CHECK (status IN ('awaiting_approval', 'proposed', 'accepted', 'rejected',
                                                          'expired', 'withdrawn')),
    ADD COLUMN approved_by     TEXT,
    ADD COLUMN approved_at     TIMESTAMPTZ,
    ADD COLUMN sent_at         TIMESTAMPTZ,
    -- When an unanswered proposal expires (set when it is sent to the provider).
    ADD COLUMN expires_at      TIMESTAMPTZ,
    ADD COLUMN responded_by    TEXT,
    ADD COLUMN responded_at    TIMESTAMPTZ,
    ADD COLUMN response_reason TEXT;
UPDATE proposal SET sent_at = proposed_at WHERE status = 'proposed';
CREATE UNIQUE INDEX proposal_open_per_need ON proposal (need_id)
    WHERE status IN ('awaiting_approval', 'proposed', 'accepted');
CREATE INDEX proposal_expiring ON proposal (expires_at) WHERE status = 'proposed';

-- Per municipality: whether a coordinator approves each proposal before the provider sees
-- it, and how long a provider has to answer.
CREATE TABLE municipality_settings (
    municipality_code     TEXT PRIMARY KEY,
    require_approval      BOOLEAN NOT NULL DEFAULT false,
    proposal_ttl_seconds  INTEGER NOT NULL DEFAULT 604800 CHECK (proposal_ttl_seconds > 0),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
