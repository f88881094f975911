-- Row-level security (issue 7): the second wall behind the API's checks. Matching's pool acts
-- as tsunagu_matching_app, a role that owns nothing and is no superuser, with the tenant of
-- each checkout (`tsunagu.tenant`). A call sees its municipality's needs, proposals, settings
-- and area issues, a provider (`tsunagu.organization`) the proposals addressed to it and
-- their needs, a prefecture's roles their municipalities' (for the gap map's aggregates);
-- placement, which works across municipal borders by nature (a resource covers areas of
-- several municipalities), runs as '*', the service's own work. A missing tenant admits
-- nothing. The read model of the registry's community data (areas, resources, categories,
-- helpers' ids) is the same for every tenant and carries no wall.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tsunagu_matching_app') THEN
        CREATE ROLE tsunagu_matching_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    EXECUTE format('GRANT tsunagu_matching_app TO %I', current_user);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO tsunagu_matching_app', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO tsunagu_matching_app',
                   current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO tsunagu_matching_app',
                   current_schema());
END
$$;

-- Whether the task's tenant may read rows of municipality `code`: the municipality itself,
-- '*', or its prefecture (a prefecture's code ends in 000 and a check digit; its first two
-- digits are its municipalities' first two).
CREATE FUNCTION tenant_reads(code TEXT) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT current_setting('tsunagu.tenant', true) IN (code, '*')
        OR (current_setting('tsunagu.tenant', true) ~ '^[0-9]{2}000[0-9]$'
            AND left(code, 2) = left(current_setting('tsunagu.tenant', true), 2))
$$;

-- Whether the task acts for organisation `organization_id` (a provider's call).
CREATE FUNCTION acts_for(organization_id UUID) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT organization_id::text = NULLIF(current_setting('tsunagu.organization', true), '')
$$;

ALTER TABLE proposal ENABLE ROW LEVEL SECURITY;
ALTER TABLE proposal FORCE ROW LEVEL SECURITY;
CREATE POLICY proposal_of_tenant ON proposal
    USING (tenant_reads(municipality_code) OR acts_for(organization_id))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));

ALTER TABLE need ENABLE ROW LEVEL SECURITY;
ALTER TABLE need FORCE ROW LEVEL SECURITY;
CREATE POLICY need_of_tenant ON need
    USING (tenant_reads(municipality_code)
           OR EXISTS (SELECT 1 FROM proposal p WHERE p.need_id = need.id AND acts_for(p.organization_id)))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));

ALTER TABLE municipality_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE municipality_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY municipality_settings_of_tenant ON municipality_settings
    USING (tenant_reads(municipality_code))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));

ALTER TABLE area_issue ENABLE ROW LEVEL SECURITY;
ALTER TABLE area_issue FORCE ROW LEVEL SECURITY;
CREATE POLICY area_issue_of_tenant ON area_issue
    USING (tenant_reads(municipality_code))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));
