-- Plumbing every service has in its own schema (the search_path points at it).

-- Transactional outbox: an event is written here in the same transaction as the state change
-- it announces; the relay publishes it with publisher confirms and only then marks it published.
CREATE TABLE outbox (
    id                UUID PRIMARY KEY,          -- the AMQP message id; consumers dedupe on it
    event_type        TEXT NOT NULL,             -- also the routing key, e.g. 'need.submitted'
    municipality_code TEXT NOT NULL,             -- tenant of the event (全国地方公共団体コード)
    payload           JSONB NOT NULL,
    trace_context     JSONB NOT NULL DEFAULT '{}', -- W3C traceparent/tracestate of the writer
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at      TIMESTAMPTZ,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    -- A row the broker returned unrouted waits before it is tried again (a binding is
    -- missing; retrying at once would only fill the log). Broker outages do not move it.
    next_attempt_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The relay reads unpublished rows in creation order.
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
-- Housekeeping deletes published rows after the retention period.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Inbox: a consumer records each message id in the same transaction as its effect, so a
-- redelivered message finds its id here and has no second effect.
CREATE TABLE inbox (
    consumer     TEXT NOT NULL,
    message_id   UUID NOT NULL,
    event_type   TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
-- Housekeeping forgets ids after the retention period, far longer than any redelivery.
CREATE INDEX inbox_received ON inbox (received_at);
