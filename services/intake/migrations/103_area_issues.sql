-- Area issues (地域課題): needs known in aggregate for an area — from a 日常生活圏域ニーズ調査,
-- a 地域ケア会議, the review of care plans (予防プランの検証) or residents' remarks (つぶやき).
-- With individual needs they feed the gap map. No personal data: counts and notes only.
CREATE TABLE area_issue (
    id                UUID PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    request_id        TEXT NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('needs_survey', 'community_care_meeting',
                                                      'care_plan_review', 'remark')),
    area_id           UUID NOT NULL,
    category          TEXT NOT NULL,
    count             INTEGER NOT NULL CHECK (count >= 0),
    -- True when `count` is an estimate rather than a tally.
    estimated         BOOLEAN NOT NULL DEFAULT false,
    period_from       DATE NOT NULL,
    period_to         DATE NOT NULL CHECK (period_to >= period_from),
    notes             TEXT NOT NULL DEFAULT '',
    recorded_by       TEXT NOT NULL,
    recorded_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (municipality_code, request_id)
);
CREATE INDEX area_issue_area ON area_issue (municipality_code, area_id, period_from);
