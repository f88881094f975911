-- Issue 6: subscriptions over e-mail, webhooks and plug-in channels; deliveries with retries,
-- dead letters and an attempt log; versioned templates; a gapless cursor for the in-app stream.

-- The in-app inbox learns more recipients, urgency, read state, the template that rendered
-- it, and its place in the stream: (txid, seq). A reader only returns rows whose transaction
-- id is below the oldest transaction still running (pg_snapshot_xmin), in (txid, seq)
-- order: rows committed later always sort after everything returned, so a cursor never
-- skips one that committed out of order.
ALTER TABLE notification
    ADD COLUMN seq              BIGSERIAL,
    ADD COLUMN txid             XID8 NOT NULL DEFAULT pg_current_xact_id(),
    ADD COLUMN urgent           BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN read_at          TIMESTAMPTZ,
    ADD COLUMN template_key     TEXT NOT NULL DEFAULT '',
    ADD COLUMN template_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX notification_stream ON notification (recipient_kind, recipient_id, txid, seq);

-- What notifications knows of a need's place, from the events that carry it (proposals and
-- unmatched needs), so that answers and status changes can be filtered by area too.
CREATE TABLE need_context (
    need_id           UUID PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    area_id           UUID,
    category          TEXT NOT NULL
);

CREATE TABLE subscription (
    id                  UUID PRIMARY KEY,
    municipality_code   TEXT NOT NULL,
    recipient_kind      TEXT NOT NULL
        CHECK (recipient_kind IN ('organization', 'municipality_coordinators', 'municipality', 'need')),
    recipient_id        TEXT NOT NULL,
    subscriber_kind     TEXT NOT NULL,
    subscriber_name     TEXT NOT NULL,
    channel             TEXT NOT NULL,
    address             TEXT NOT NULL,
    -- Webhooks: the HMAC key. Kept readable because every delivery is signed with it; the
    -- table is behind row-level security like every other.
    secret              TEXT,
    event_types         TEXT[] NOT NULL DEFAULT '{}',
    categories          TEXT[] NOT NULL DEFAULT '{}',
    area_ids            UUID[] NOT NULL DEFAULT '{}',
    quiet_start_minute  INTEGER CHECK (quiet_start_minute BETWEEN 0 AND 1439),
    quiet_end_minute    INTEGER CHECK (quiet_end_minute BETWEEN 0 AND 1439),
    digest_minute       INTEGER CHECK (digest_minute BETWEEN 0 AND 1439),
    locale              TEXT NOT NULL DEFAULT 'ja' CHECK (locale IN ('ja', 'en')),
    created_by          TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at          TIMESTAMPTZ
);
CREATE INDEX subscription_recipient ON subscription (recipient_kind, recipient_id) WHERE deleted_at IS NULL;

-- One row per (event, subscription): the unique key is the dedup that makes a redelivered
-- event send nothing twice.
CREATE TABLE delivery (
    id                UUID PRIMARY KEY,
    subscription_id   UUID NOT NULL REFERENCES subscription (id),
    municipality_code TEXT NOT NULL,
    -- The subscription's recipient, copied so the row-level policy needs no join.
    recipient_kind    TEXT NOT NULL,
    recipient_id      TEXT NOT NULL,
    channel           TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    event_id          UUID NOT NULL,
    urgent            BOOLEAN NOT NULL DEFAULT false,
    subject           TEXT NOT NULL,
    body              TEXT NOT NULL,
    payload           JSONB NOT NULL,
    -- The W3C trace context of the event's consumer: each attempt is a span of the need's trace.
    trace_headers     JSONB NOT NULL DEFAULT '{}',
    template_key      TEXT NOT NULL,
    template_version  INTEGER NOT NULL,
    state             TEXT NOT NULL
        CHECK (state IN ('pending', 'digest', 'sending', 'delivered', 'dead', 'digested')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    -- Attempts logged before the last replay: the log numbers on from here.
    attempt_base      INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- While 'sending': a worker that dies mid-send leaves its claim to expire.
    lease_until       TIMESTAMPTZ,
    last_error        TEXT,
    digest_id         UUID REFERENCES delivery (id),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at      TIMESTAMPTZ,
    UNIQUE (event_id, subscription_id)
);
-- One partial index per kind of due work: a claim reads only what is due, however many
-- deliveries wait for quiet hours or a digest.
CREATE INDEX delivery_pending ON delivery (next_attempt_at) WHERE state = 'pending';
CREATE INDEX delivery_sending ON delivery (lease_until) WHERE state = 'sending';
CREATE INDEX delivery_digest ON delivery (next_attempt_at) WHERE state = 'digest';
CREATE INDEX delivery_of_municipality ON delivery (municipality_code, id);

CREATE TABLE delivery_attempt (
    delivery_id UUID NOT NULL REFERENCES delivery (id),
    attempt     INTEGER NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    latency_ms  INTEGER NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
    detail      TEXT NOT NULL DEFAULT '',
    municipality_code TEXT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- Versions of templates an operator added; the bundled ones are version 1 (in the code).
CREATE TABLE template (
    key        TEXT NOT NULL,
    locale     TEXT NOT NULL CHECK (locale IN ('ja', 'en')),
    version    INTEGER NOT NULL CHECK (version >= 2),
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (key, locale, version)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON need_context, subscription, delivery, delivery_attempt, template
    TO tsunagu_notifications_app;
GRANT USAGE ON SEQUENCE notification_seq_seq TO tsunagu_notifications_app;

-- The same wall as the inbox: a municipality's rows to its own staff; a provider's
-- subscriptions and deliveries to the provider from whatever municipality.
ALTER TABLE need_context ENABLE ROW LEVEL SECURITY;
ALTER TABLE need_context FORCE ROW LEVEL SECURITY;
CREATE POLICY need_context_of_tenant ON need_context
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));

ALTER TABLE subscription ENABLE ROW LEVEL SECURITY;
ALTER TABLE subscription FORCE ROW LEVEL SECURITY;
CREATE POLICY subscription_of_tenant ON subscription
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*')
           OR (recipient_kind = 'organization'
               AND recipient_id = NULLIF(current_setting('tsunagu.organization', true), '')))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*')
           OR (recipient_kind = 'organization'
               AND recipient_id = NULLIF(current_setting('tsunagu.organization', true), '')));

ALTER TABLE delivery ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery FORCE ROW LEVEL SECURITY;
CREATE POLICY delivery_of_tenant ON delivery
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*')
           OR (recipient_kind = 'organization'
               AND recipient_id = NULLIF(current_setting('tsunagu.organization', true), '')))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));

ALTER TABLE delivery_attempt ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_attempt FORCE ROW LEVEL SECURITY;
CREATE POLICY delivery_attempt_of_tenant ON delivery_attempt
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));
-- Templates are the prefecture's, shared by all municipalities: no tenant column.

-- A provider marks its inbox read, notifications about other municipalities' needs included.
ALTER POLICY notification_of_tenant ON notification
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*')
                OR (recipient_kind = 'organization'
                    AND recipient_id = NULLIF(current_setting('tsunagu.organization', true), '')));
