-- Resources modelled after Open Referral HSDS: kind, status, eligibility, fee, schedules,
-- capabilities, location (with a confidential flag) and an external id for imports. The full
-- editable state is one JSON document (`details`, the registry's ResourceFields); the columns
-- that lists filter on are copied out of it by the registry on every write.
ALTER TABLE resource
    ADD COLUMN name_kana TEXT NOT NULL DEFAULT '',
    ADD COLUMN kind TEXT NOT NULL DEFAULT 'use' CHECK (kind IN ('use', 'participate', 'place')),
    ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'inactive', 'temporarily_closed', 'defunct')),
    ADD COLUMN eligibility TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN external_id TEXT,
    ADD COLUMN details JSONB,
    ADD COLUMN capacity_updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN updated_by TEXT NOT NULL DEFAULT '',
    ADD COLUMN deleted_by TEXT;

-- Places and activities anyone may join have no maximum (0).
ALTER TABLE resource DROP CONSTRAINT resource_capacity_check;
ALTER TABLE resource ADD CONSTRAINT resource_capacity_check CHECK (capacity >= 0);

-- Resources written before this migration get a document built from their columns.
UPDATE resource r SET details = jsonb_build_object(
    'organization_id', r.organization_id,
    'name', r.name,
    'name_kana', '',
    'description', '',
    'category', r.category,
    'kind', 'use',
    'coverage_area_ids', COALESCE((SELECT jsonb_agg(c.area_id ORDER BY c.area_id) FROM resource_coverage c
                                   WHERE c.resource_id = r.id), '[]'::jsonb),
    'capacity', jsonb_build_object('available', r.capacity, 'maximum', r.capacity, 'unit', ''),
    'fee', jsonb_build_object('type', 'unknown'),
    'eligibility', '[]'::jsonb,
    'min_age', NULL,
    'max_age', NULL,
    'capabilities', jsonb_build_object('wheelchair_vehicle', false, 'languages', '[]'::jsonb,
                                       'helper_genders', '[]'::jsonb),
    'schedules', '[]'::jsonb,
    'status', 'active',
    'status_note', '',
    'location', jsonb_build_object('address', '', 'point', NULL, 'confidential', false),
    'external_id', NULL,
    'url', '');
ALTER TABLE resource ALTER COLUMN details SET NOT NULL;

ALTER TABLE resource ADD COLUMN search_key TEXT GENERATED ALWAYS AS (
    search_fold(name || ' ' || name_kana || ' ' || COALESCE(details ->> 'description', ''))
) STORED;

CREATE UNIQUE INDEX resource_external_id ON resource (municipality_code, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX resource_updated ON resource (municipality_code, updated_at);
CREATE INDEX resource_category ON resource (category);
CREATE INDEX resource_coverage_area ON resource_coverage (area_id);
