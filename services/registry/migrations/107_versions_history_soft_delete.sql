-- Every registry entity carries a version (bumped by each change, carried by its events so a
-- consumer can ignore a stale one), soft deletion with a reason, and a field-level history.

CREATE TABLE change_history (
    id            UUID PRIMARY KEY,       -- UUIDv7: sorts by time, pages by id
    entity_kind   TEXT NOT NULL,          -- 'resource', 'organization', 'helper', ...
    entity_id     UUID NOT NULL,
    version       BIGINT NOT NULL,        -- the entity's version after the change
    field         TEXT NOT NULL,          -- '*' for creation and deletion
    old_value     JSONB,
    new_value     JSONB,
    changed_by    TEXT NOT NULL,
    changed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    reason        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX change_history_entity ON change_history (entity_kind, entity_id, id);

ALTER TABLE organization
    ADD COLUMN version BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN deleted_at TIMESTAMPTZ,
    ADD COLUMN deleted_reason TEXT;

ALTER TABLE resource
    ADD COLUMN version BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN deleted_at TIMESTAMPTZ,
    ADD COLUMN deleted_reason TEXT;
