-- Intake: individual needs (個別ニーズ). Personal data of residents arrives with a later issue
-- and will be stored encrypted; this table holds none.

CREATE TABLE need (
    id                  UUID PRIMARY KEY,
    municipality_code   TEXT NOT NULL,
    -- Client-chosen idempotency key, unique per municipality.
    request_id          TEXT NOT NULL,
    -- SHA-256 of the request's content: a retry must carry the same content.
    request_fingerprint TEXT NOT NULL,
    area_id             UUID NOT NULL,
    category            TEXT NOT NULL,
    urgency             TEXT NOT NULL CHECK (urgency IN ('routine', 'urgent')),
    status              TEXT NOT NULL DEFAULT 'submitted',
    submitted_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (municipality_code, request_id)
);
CREATE INDEX need_municipality ON need (municipality_code, id);

-- Every status a need has been in, so the full history of each need is kept.
CREATE TABLE need_status_history (
    need_id    UUID NOT NULL REFERENCES need (id),
    status     TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX need_status_history_need ON need_status_history (need_id, changed_at);
