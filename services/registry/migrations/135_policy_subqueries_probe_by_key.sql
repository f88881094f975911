-- A helper's areas and history follow the helper: EXISTS subqueries in their policies, which
-- PostgreSQL may hash in a cached generic plan made while the tables were new (a full scan of
-- `helper` per statement). `OFFSET 0` keeps them correlated probes by key (see intake's
-- migration 111). Same rules.

DROP POLICY helper_area_of_tenant ON helper_area;
CREATE POLICY helper_area_of_tenant ON helper_area
    USING (EXISTS (SELECT 1 FROM helper h WHERE h.id = helper_id OFFSET 0))
    WITH CHECK (EXISTS (SELECT 1 FROM helper h WHERE h.id = helper_id OFFSET 0));

DROP POLICY change_history_of_tenant ON change_history;
CREATE POLICY change_history_of_tenant ON change_history
    USING (entity_kind <> 'helper' OR EXISTS (SELECT 1 FROM helper h WHERE h.id = entity_id OFFSET 0))
    WITH CHECK (entity_kind <> 'helper' OR EXISTS (SELECT 1 FROM helper h WHERE h.id = entity_id OFFSET 0));
