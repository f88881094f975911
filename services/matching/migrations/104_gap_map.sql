-- The gap map (見える化): which area lacks which service. Areas keep their names for the
-- coordinators' tables and charts; an unmatched need keeps the kind of its reason; area issues
-- (地域課題) recorded in intake are counted beside the individual needs.
ALTER TABLE area ADD COLUMN name TEXT NOT NULL DEFAULT '';
-- no_resource: no resource of the category at all; no_coverage: none covers the area;
-- at_capacity: those that cover it are full (or declined this need).
ALTER TABLE need ADD COLUMN unmatched_kind TEXT;

CREATE TABLE area_issue (
    id                UUID PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    source            TEXT NOT NULL,
    area_id           UUID NOT NULL,
    category          TEXT NOT NULL,
    count             INTEGER NOT NULL,
    estimated         BOOLEAN NOT NULL,
    period_from       DATE NOT NULL,
    period_to         DATE NOT NULL
);
CREATE INDEX area_issue_municipality ON area_issue (municipality_code);
