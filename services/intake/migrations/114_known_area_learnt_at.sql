-- When intake last learnt an area: a call waiting for an area it has not heard of yet keeps
-- waiting while areas are still arriving (a backlog, e.g. the official list's 1,788 areas on a
-- first start), and gives up soon once they stop.
ALTER TABLE known_area ADD COLUMN learnt_at TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE INDEX known_area_learnt_at ON known_area (learnt_at);
