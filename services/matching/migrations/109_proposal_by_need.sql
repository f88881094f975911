-- The resources that declined a need are looked up by need for every (re)matching; the only
-- index on need_id covers open proposals, so the lookup read the whole table (found by the
-- load benchmark, docs/benchmarks/load.md).
CREATE INDEX proposal_by_need ON proposal (need_id);
