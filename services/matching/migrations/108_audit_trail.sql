-- The audit trail (issue 7, `tsunagu_runtime::audit`): every read of personal data and every
-- change made through this service's API — who (role, key prefix), what (method, object,
-- detail), when and from which client; served by `tsunagu.audit.v1.AuditService`.
-- Append-only: the trigger refuses updates and deletes. Ids and codes only.
CREATE TABLE audit_entry (
    id                UUID PRIMARY KEY,          -- UUIDv7: time ordered
    at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    municipality_code TEXT NOT NULL,
    actor_role        TEXT NOT NULL,
    actor_key         TEXT NOT NULL,
    action            TEXT NOT NULL CHECK (action IN ('read_personal_data', 'change')),
    method            TEXT NOT NULL,
    object_kind       TEXT NOT NULL,
    object_id         UUID,
    detail            TEXT NOT NULL DEFAULT '',
    client            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_entry_municipality ON audit_entry (municipality_code, id DESC);
CREATE INDEX audit_entry_object ON audit_entry (object_id) WHERE object_id IS NOT NULL;

CREATE FUNCTION audit_entry_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entry is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION audit_entry_is_append_only();
CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_is_append_only();

REVOKE UPDATE, DELETE ON audit_entry FROM tsunagu_matching_app;
ALTER TABLE audit_entry ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_entry FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_entry_of_tenant ON audit_entry
    USING (tenant_reads(municipality_code))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));
