-- 担い手 (helpers): people or groups of an organisation, with skills (taxonomy codes), areas,
-- weekly availability, the monthly load they accept, training records (養成研修) and their
-- onboarding status. Versioned, soft-deleted and searched like the other registry entities.

CREATE TABLE helper (
    id                  UUID PRIMARY KEY,       -- UUIDv7
    municipality_code   TEXT NOT NULL,          -- the organisation's
    organization_id     UUID NOT NULL REFERENCES organization (id),
    name                TEXT NOT NULL,
    name_kana           TEXT NOT NULL DEFAULT '',
    kind                TEXT NOT NULL CHECK (kind IN ('individual', 'group')),
    skills              TEXT[] NOT NULL DEFAULT '{}',
    availability        JSONB NOT NULL DEFAULT '[]',    -- [{weekday, start_minute, end_minute}]
    monthly_load_amount INTEGER CHECK (monthly_load_amount > 0),
    monthly_load_unit   TEXT CHECK (monthly_load_unit IN ('hours', 'visits')),
    gender              TEXT CHECK (gender IN ('female', 'male', 'other')),
    languages           TEXT[] NOT NULL DEFAULT '{}',
    training_records    JSONB NOT NULL DEFAULT '[]',    -- [{course_name, completed_on, hours, organiser}]
    contact_points      JSONB NOT NULL DEFAULT '[]',    -- personal data: never in events or logs
    status              TEXT NOT NULL CHECK (status IN ('prospective', 'trained', 'active', 'inactive')),
    version             BIGINT NOT NULL DEFAULT 1,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at          TIMESTAMPTZ,
    deleted_reason      TEXT,
    deleted_by          TEXT,
    search_key          TEXT GENERATED ALWAYS AS (search_fold(name || ' ' || name_kana)) STORED,
    CONSTRAINT helper_monthly_load_complete CHECK ((monthly_load_amount IS NULL) = (monthly_load_unit IS NULL)),
    CONSTRAINT helper_trained_has_training CHECK (
        status NOT IN ('trained', 'active') OR jsonb_array_length(training_records) > 0),
    CONSTRAINT helper_deletion_complete CHECK ((deleted_at IS NULL) = (deleted_reason IS NULL))
);
CREATE INDEX helper_municipality ON helper (municipality_code, id);
CREATE INDEX helper_organization ON helper (organization_id);
CREATE INDEX helper_skills ON helper USING gin (skills);

CREATE TABLE helper_area (
    helper_id UUID NOT NULL REFERENCES helper (id) ON DELETE CASCADE,
    area_id   UUID NOT NULL REFERENCES area (id),
    position  INTEGER NOT NULL,          -- the order the caller gave
    PRIMARY KEY (helper_id, area_id)
);
CREATE INDEX helper_area_area ON helper_area (area_id);
