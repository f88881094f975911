-- API keys (issue 7): who may call Tsunagu, with which role, in which scope. The registry owns
-- them because it owns the tenancy (the prefecture, its municipalities, organisations); the
-- other services ask it (IntrospectApiKey). Only the prefix and the SHA-256 of the secret are
-- kept: the key itself is shown once. Nothing is deleted: a key ends by expiry or revocation,
-- and the row stays for the audit trail.
CREATE TABLE api_key (
    id             UUID PRIMARY KEY,
    prefix         TEXT NOT NULL UNIQUE,
    secret_hash    TEXT NOT NULL,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('prefecture_admin', 'prefecture_analyst', 'municipal_admin',
                                                 'coordinator', 'provider', 'integration')),
    -- The prefecture's code for prefecture roles, else the municipality's.
    scope_code     TEXT NOT NULL,
    organization_id UUID REFERENCES organization (id),
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at     TIMESTAMPTZ NOT NULL,
    revoked_at     TIMESTAMPTZ,
    revoked_reason TEXT,
    -- The key this one replaced (RotateApiKey); the old one ends after the overlap.
    rotated_from   UUID REFERENCES api_key (id),
    CONSTRAINT api_key_provider_has_organization CHECK ((role = 'provider') = (organization_id IS NOT NULL))
);
CREATE INDEX api_key_scope ON api_key (scope_code, created_at DESC);
