-- Row-level security (issue 7) for what the registry holds of people: helpers (担い手), with
-- their contact details, and their change history. Areas, organisations, resources,
-- coordinators and 協議体 are the community's public record, read by every key, and carry no
-- wall. The registry's pool acts as tsunagu_registry_app, a role that owns nothing and is no
-- superuser, with the caller's tenant on each checkout: a municipality's staff reach its
-- helpers, a provider (`tsunagu.organization`) its organisation's, the prefecture's
-- administrator its municipalities' (it keeps the registry); a missing tenant nothing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tsunagu_registry_app') THEN
        CREATE ROLE tsunagu_registry_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    EXECUTE format('GRANT tsunagu_registry_app TO %I', current_user);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO tsunagu_registry_app', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO tsunagu_registry_app',
                   current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO tsunagu_registry_app',
                   current_schema());
END
$$;

-- The municipality itself, '*', or its prefecture (a prefecture's code ends in 000 and a
-- check digit, and shares its first two digits with its municipalities').
CREATE FUNCTION tenant_reaches(code TEXT) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT current_setting('tsunagu.tenant', true) IN (code, '*')
        OR (current_setting('tsunagu.tenant', true) ~ '^[0-9]{2}000[0-9]$'
            AND left(code, 2) = left(current_setting('tsunagu.tenant', true), 2))
$$;

CREATE FUNCTION acts_for(organization_id UUID) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT organization_id::text = NULLIF(current_setting('tsunagu.organization', true), '')
$$;

ALTER TABLE helper ENABLE ROW LEVEL SECURITY;
ALTER TABLE helper FORCE ROW LEVEL SECURITY;
CREATE POLICY helper_of_tenant ON helper
    USING (tenant_reaches(municipality_code) OR acts_for(organization_id))
    WITH CHECK (tenant_reaches(municipality_code) OR acts_for(organization_id));

ALTER TABLE helper_area ENABLE ROW LEVEL SECURITY;
ALTER TABLE helper_area FORCE ROW LEVEL SECURITY;
CREATE POLICY helper_area_of_tenant ON helper_area
    USING (EXISTS (SELECT 1 FROM helper h WHERE h.id = helper_id))
    WITH CHECK (EXISTS (SELECT 1 FROM helper h WHERE h.id = helper_id));

-- A helper's history holds its old contact details: it follows the helper. Every other
-- entity's history is public like the entity.
ALTER TABLE change_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE change_history FORCE ROW LEVEL SECURITY;
CREATE POLICY change_history_of_tenant ON change_history
    USING (entity_kind <> 'helper' OR EXISTS (SELECT 1 FROM helper h WHERE h.id = entity_id))
    WITH CHECK (entity_kind <> 'helper' OR EXISTS (SELECT 1 FROM helper h WHERE h.id = entity_id));
