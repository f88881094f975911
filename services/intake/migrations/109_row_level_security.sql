-- Row-level security (issue 7): the second wall behind the API's checks. Intake's pool acts
-- as tsunagu_intake_app, a role that owns nothing and is no superuser, and sets the tenant of
-- each checkout (`tsunagu.tenant`: a municipality's code, or '*' for the service's own work
-- across municipalities). A row of another municipality is invisible and cannot be written,
-- whatever a query asks. A missing or empty tenant admits nothing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tsunagu_intake_app') THEN
        CREATE ROLE tsunagu_intake_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    -- The user that runs the service (and these migrations) may act as it.
    EXECUTE format('GRANT tsunagu_intake_app TO %I', current_user);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO tsunagu_intake_app', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO tsunagu_intake_app',
                   current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO tsunagu_intake_app',
                   current_schema());
END
$$;
-- The audit trail is appended to and read, never changed (the trigger says so too).
REVOKE UPDATE, DELETE ON audit_entry FROM tsunagu_intake_app;

ALTER TABLE need ENABLE ROW LEVEL SECURITY;
ALTER TABLE need FORCE ROW LEVEL SECURITY;
CREATE POLICY need_of_tenant ON need
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));

ALTER TABLE resident ENABLE ROW LEVEL SECURITY;
ALTER TABLE resident FORCE ROW LEVEL SECURITY;
CREATE POLICY resident_of_tenant ON resident
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));

ALTER TABLE area_issue ENABLE ROW LEVEL SECURITY;
ALTER TABLE area_issue FORCE ROW LEVEL SECURITY;
CREATE POLICY area_issue_of_tenant ON area_issue
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));

ALTER TABLE audit_entry ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_entry FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_entry_of_tenant ON audit_entry
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));

-- What belongs to a need follows the need: visible and writable only with a visible need.
ALTER TABLE need_status_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE need_status_history FORCE ROW LEVEL SECURITY;
CREATE POLICY need_status_history_of_tenant ON need_status_history
    USING (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id))
    WITH CHECK (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id));

ALTER TABLE need_edit ENABLE ROW LEVEL SECURITY;
ALTER TABLE need_edit FORCE ROW LEVEL SECURITY;
CREATE POLICY need_edit_of_tenant ON need_edit
    USING (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id))
    WITH CHECK (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id));

ALTER TABLE consent ENABLE ROW LEVEL SECURITY;
ALTER TABLE consent FORCE ROW LEVEL SECURITY;
CREATE POLICY consent_of_tenant ON consent
    USING (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id))
    WITH CHECK (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id));

ALTER TABLE contact_disclosure ENABLE ROW LEVEL SECURITY;
ALTER TABLE contact_disclosure FORCE ROW LEVEL SECURITY;
CREATE POLICY contact_disclosure_of_tenant ON contact_disclosure
    USING (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id))
    WITH CHECK (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id));
