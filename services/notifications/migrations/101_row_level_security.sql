-- Row-level security (issue 7): the pool acts as tsunagu_notifications_app, which owns
-- nothing and is no superuser, with the tenant of each checkout (`tsunagu.tenant`: the
-- caller's municipality, the event's municipality for consumed events, '*' for the service's
-- own work) and, for a provider, its organisation (`tsunagu.organization`): its inbox holds
-- notifications about needs of other municipalities its resources serve.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tsunagu_notifications_app') THEN
        CREATE ROLE tsunagu_notifications_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    EXECUTE format('GRANT tsunagu_notifications_app TO %I', current_user);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO tsunagu_notifications_app', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO tsunagu_notifications_app',
                   current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO tsunagu_notifications_app',
                   current_schema());
END
$$;

ALTER TABLE notification ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification FORCE ROW LEVEL SECURITY;
CREATE POLICY notification_of_tenant ON notification
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*')
           OR (recipient_kind = 'organization'
               AND recipient_id = NULLIF(current_setting('tsunagu.organization', true), '')))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));
