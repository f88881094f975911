-- Issue 6: a resource nobody has verified within its municipality's freshness period is
-- announced (`resource.verification_overdue`) once per stale spell. The sweep marks it here
-- in the transaction that writes the event, so a second sweep (or replica) passes it by;
-- verifying the resource clears the mark and starts the next spell.
ALTER TABLE resource ADD COLUMN overdue_announced_at TIMESTAMPTZ;

-- What the sweep walks: live resources not yet announced, oldest verification (or creation)
-- first. It stops at the shortest freshness period in use, so an hourly sweep over a large
-- registry reads only the rows that may be due.
CREATE INDEX resource_verification_due ON resource ((COALESCE(verified_at, created_at)))
    WHERE overdue_announced_at IS NULL AND deleted_at IS NULL AND status <> 'defunct';
