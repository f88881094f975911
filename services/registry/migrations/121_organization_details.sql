-- Organisations get what resources have: an external id for imports, who changed them, who
-- deleted them, and a search key over name and reading.
ALTER TABLE organization
    ADD COLUMN external_id TEXT,
    ADD COLUMN updated_by TEXT NOT NULL DEFAULT '',
    ADD COLUMN deleted_by TEXT,
    ADD COLUMN search_key TEXT GENERATED ALWAYS AS (search_fold(name || ' ' || name_kana)) STORED;
CREATE UNIQUE INDEX organization_external_id ON organization (municipality_code, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX organization_care_provider_numbers ON organization USING gin (care_provider_numbers);
CREATE INDEX organization_updated ON organization (municipality_code, updated_at);
