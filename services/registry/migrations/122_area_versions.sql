-- Areas get what other registry entities have: a version, an edit date, and soft deletion
-- with a reason (a 自治会 that merged, a 圏域 that was redrawn).
ALTER TABLE area
    ADD COLUMN version BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN deleted_at TIMESTAMPTZ,
    ADD COLUMN deleted_reason TEXT,
    ADD COLUMN deleted_by TEXT;
