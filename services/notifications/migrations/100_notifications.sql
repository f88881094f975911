-- Notifications: one row per (event, recipient, channel) — the unique key is the dedup that
-- makes a notification arrive once even if its event arrives twice.

CREATE TABLE notification (
    id                UUID PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    recipient_kind    TEXT NOT NULL CHECK (recipient_kind IN ('organization', 'municipality_coordinators')),
    recipient_id      TEXT NOT NULL,
    channel           TEXT NOT NULL DEFAULT 'in_app',
    event_type        TEXT NOT NULL,
    event_id          UUID NOT NULL,
    title             TEXT NOT NULL,
    body              TEXT NOT NULL,
    need_id           UUID NOT NULL,
    proposal_id       UUID,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (event_id, recipient_kind, recipient_id, channel)
);
CREATE INDEX notification_recipient ON notification (recipient_kind, recipient_id, id);
