-- Registry: the area tree, organisations (事業主体) and resources (地域資源).
-- Every row carries the municipality (全国地方公共団体コード) it belongs to.

CREATE TABLE area (
    id                UUID PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('prefecture', 'municipality', 'daily_life_area')),
    code              TEXT UNIQUE,            -- official code; NULL below the municipality
    name              TEXT NOT NULL,
    name_kana         TEXT NOT NULL DEFAULT '',
    parent_id         UUID REFERENCES area (id),
    municipality_code TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((kind = 'prefecture') = (parent_id IS NULL)),
    CHECK ((kind = 'daily_life_area') = (code IS NULL))
);
CREATE INDEX area_parent ON area (parent_id);
CREATE INDEX area_municipality ON area (municipality_code);

CREATE TABLE organization (
    id                UUID PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    name              TEXT NOT NULL,
    name_kana         TEXT NOT NULL DEFAULT '',
    kind              TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX organization_municipality ON organization (municipality_code);

CREATE TABLE organization_area (
    organization_id UUID NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    area_id         UUID NOT NULL REFERENCES area (id),
    PRIMARY KEY (organization_id, area_id)
);

CREATE TABLE resource (
    id                UUID PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    organization_id   UUID NOT NULL REFERENCES organization (id),
    name              TEXT NOT NULL,
    category          TEXT NOT NULL,
    capacity          INTEGER NOT NULL CHECK (capacity > 0),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX resource_municipality ON resource (municipality_code);

CREATE TABLE resource_coverage (
    resource_id UUID NOT NULL REFERENCES resource (id) ON DELETE CASCADE,
    area_id     UUID NOT NULL REFERENCES area (id),
    PRIMARY KEY (resource_id, area_id)
);
