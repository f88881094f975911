-- Matching: a read model built from registry and intake events, and the proposals it makes.

CREATE TABLE area (
    id                UUID PRIMARY KEY,
    parent_id         UUID,
    kind              TEXT NOT NULL,
    municipality_code TEXT NOT NULL
);
CREATE INDEX area_parent ON area (parent_id);

CREATE TABLE resource (
    id                UUID PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    organization_id   UUID NOT NULL,
    category          TEXT NOT NULL,
    capacity          INTEGER NOT NULL,
    -- Needs proposed to this resource and not yet released. Never above capacity, whatever
    -- the number of matching workers: the CHECK is the last wall.
    committed         INTEGER NOT NULL DEFAULT 0,
    CHECK (committed >= 0 AND committed <= capacity)
);
CREATE INDEX resource_category ON resource (category);

CREATE TABLE resource_coverage (
    resource_id UUID NOT NULL REFERENCES resource (id) ON DELETE CASCADE,
    area_id     UUID NOT NULL,
    PRIMARY KEY (resource_id, area_id)
);
CREATE INDEX resource_coverage_area ON resource_coverage (area_id);

CREATE TABLE need (
    id                UUID PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    area_id           UUID NOT NULL,
    category          TEXT NOT NULL,
    urgency           TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('proposed', 'unmatched')),
    unmatched_reason  TEXT,
    received_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE proposal (
    id                UUID PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    need_id           UUID NOT NULL UNIQUE REFERENCES need (id),
    resource_id       UUID NOT NULL REFERENCES resource (id),
    organization_id   UUID NOT NULL,
    category          TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'proposed',
    proposed_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX proposal_municipality ON proposal (municipality_code, id);
