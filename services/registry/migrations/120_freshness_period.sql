-- How long a resource's verification stays fresh, per municipality: coordinators re-check
-- resources not verified within this period (ListStaleResources without a cutoff).
CREATE TABLE freshness_period (
    municipality_code TEXT PRIMARY KEY,
    days              INTEGER NOT NULL CHECK (days BETWEEN 1 AND 3650),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by        TEXT NOT NULL
);
