-- Matching with the engine: the terms a resource offers and the details a need asks for (as
-- their events carry them), why each proposal was chosen, and each municipality's weights.
-- NULL terms or details: events written before they existed; such a resource fits every need.
ALTER TABLE resource ADD COLUMN terms JSONB;
ALTER TABLE need ADD COLUMN details JSONB;
-- The proposal's cost and its factors ([{"name": "distance", "cost": 120}, …]).
ALTER TABLE proposal ADD COLUMN cost BIGINT NOT NULL DEFAULT 0,
                     ADD COLUMN factors JSONB NOT NULL DEFAULT '[]';
-- Only the weights a municipality changed; the rest are the engine's defaults.
ALTER TABLE municipality_settings ADD COLUMN weights JSONB NOT NULL DEFAULT '{}';
-- conditions: candidates exist but none meets the need's schedule, eligibility, fee or
-- requirements (or fits well enough to be worth proposing).
COMMENT ON COLUMN need.unmatched_kind IS 'no_resource, no_coverage, at_capacity or conditions';
