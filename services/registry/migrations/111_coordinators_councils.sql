-- 生活支援コーディネーター (coordinators) of the three layers, and 協議体 (councils) with their
-- member organisations, member people and meeting records.

CREATE TABLE coordinator (
    id                       UUID PRIMARY KEY,
    municipality_code        TEXT NOT NULL,
    name                     TEXT NOT NULL,
    name_kana                TEXT NOT NULL DEFAULT '',
    layer                    SMALLINT NOT NULL CHECK (layer IN (1, 2, 3)),
    organization_id          UUID REFERENCES organization (id),   -- layer 3: the provider
    employer_organization_id UUID REFERENCES organization (id),
    contact_points           JSONB NOT NULL DEFAULT '[]',
    active_from              DATE,
    active_until             DATE,
    version                  BIGINT NOT NULL DEFAULT 1,
    created_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at               TIMESTAMPTZ,
    deleted_reason           TEXT,
    deleted_by               TEXT,
    search_key               TEXT GENERATED ALWAYS AS (search_fold(name || ' ' || name_kana)) STORED,
    CONSTRAINT coordinator_provider_is_layer_3 CHECK ((layer = 3) = (organization_id IS NOT NULL)),
    CONSTRAINT coordinator_period_in_order CHECK (active_from <= active_until),
    CONSTRAINT coordinator_deletion_complete CHECK ((deleted_at IS NULL) = (deleted_reason IS NULL))
);
CREATE INDEX coordinator_municipality ON coordinator (municipality_code, id);
CREATE INDEX coordinator_organization ON coordinator (organization_id);

-- The areas of a layer 1 or 2 coordinator (kinds checked against the layer by the service).
CREATE TABLE coordinator_area (
    coordinator_id UUID NOT NULL REFERENCES coordinator (id) ON DELETE CASCADE,
    area_id        UUID NOT NULL REFERENCES area (id),
    position       INTEGER NOT NULL,
    PRIMARY KEY (coordinator_id, area_id)
);
CREATE INDEX coordinator_area_area ON coordinator_area (area_id);

CREATE TABLE council (
    id                UUID PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    name              TEXT NOT NULL,
    name_kana         TEXT NOT NULL DEFAULT '',
    layer             SMALLINT NOT NULL CHECK (layer IN (1, 2, 3)),
    area_id           UUID REFERENCES area (id),
    organization_id   UUID REFERENCES organization (id),          -- layer 3: the provider
    members           JSONB NOT NULL DEFAULT '[]',                -- [{name, role, coordinator_id, organization_id}]
    version           BIGINT NOT NULL DEFAULT 1,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at        TIMESTAMPTZ,
    deleted_reason    TEXT,
    deleted_by        TEXT,
    search_key        TEXT GENERATED ALWAYS AS (search_fold(name || ' ' || name_kana)) STORED,
    CONSTRAINT council_area_for_layers_1_2 CHECK (layer = 3 OR area_id IS NOT NULL),
    CONSTRAINT council_provider_is_layer_3 CHECK ((layer = 3) = (organization_id IS NOT NULL)),
    CONSTRAINT council_deletion_complete CHECK ((deleted_at IS NULL) = (deleted_reason IS NULL))
);
CREATE INDEX council_municipality ON council (municipality_code, id);
CREATE INDEX council_area ON council (area_id);

CREATE TABLE council_organization (
    council_id      UUID NOT NULL REFERENCES council (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL REFERENCES organization (id),
    position        INTEGER NOT NULL,         -- the order the caller gave
    PRIMARY KEY (council_id, organization_id)
);

CREATE TABLE council_meeting (
    id              UUID PRIMARY KEY,
    council_id      UUID NOT NULL REFERENCES council (id),
    held_on         DATE NOT NULL,
    agenda_items    TEXT[] NOT NULL DEFAULT '{}',
    decisions       TEXT[] NOT NULL DEFAULT '{}',
    attendees_count INTEGER NOT NULL DEFAULT 0 CHECK (attendees_count >= 0),
    notes           TEXT NOT NULL DEFAULT '',
    recorded_by     TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX council_meeting_newest ON council_meeting (council_id, held_on DESC, id DESC);
