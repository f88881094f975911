-- Helpers get what resources and organisations have: the id the municipality's own list uses,
-- so a sheet of helpers can be imported again and update the same people.
ALTER TABLE helper ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX helper_external_id ON helper (municipality_code, external_id)
    WHERE external_id IS NOT NULL;
