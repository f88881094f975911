-- The areas intake knows (issue 17), learnt from the registry's area.created / area.updated /
-- area.deleted, so that a need or an area issue names an area that exists, in its own
-- municipality, of a kind it may be placed in. Public registry data, not people's: no
-- row-level security (a refusal must tell another municipality's area from an unknown one).
CREATE TABLE known_area (
    id                UUID PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    -- The registry's AreaKind (daily_life_area, …); NULL for an area learnt below from the
    -- needs and issues that named it before intake checked areas.
    kind              TEXT,
    parent_id         UUID,
    name              TEXT NOT NULL DEFAULT '',
    deleted           BOOLEAN NOT NULL DEFAULT false
);

-- Deployments older than this migration: their queue was not bound to area.* before, so the
-- areas their needs and issues already use are taken as known (their kind unknown), and keep
-- working; an area created since is learnt from its event. (The migration's connection has no
-- tenant; '*' lets it read every need.)
SELECT set_config('tsunagu.tenant', '*', true);
INSERT INTO known_area (id, municipality_code)
SELECT DISTINCT ON (area_id) area_id, municipality_code
FROM (SELECT area_id, municipality_code FROM need
      UNION ALL
      SELECT area_id, municipality_code FROM area_issue) used
ON CONFLICT (id) DO NOTHING;

GRANT SELECT, INSERT, UPDATE ON known_area TO tsunagu_intake_app;
