-- Every version of a need, as it was (issue 17): a WatchNeed resumed after version N replays
-- N+1, N+2, … each as the live stream sent it, not the need as it is now under old labels.
--
-- The snapshot is taken by a trigger on `need`, not by the code that changes it, so that no
-- path (an edit, a transition, a consent, matching's news through the consumer, a path added
-- later) can forget it. It is a deferred constraint trigger: it runs at commit, when the
-- transaction's consent is in place too (a submission inserts its consent after the need; a
-- consent is recorded before the version it makes). Every path makes at most one version of a
-- need per transaction, so the consent in force at commit is the one of that version.
--
-- The private notes' ciphertext is left out: a watcher is never sent notes, and sealed data
-- is kept in one place (key rotation re-seals `need` only).
CREATE TABLE need_version (
    need_id     UUID NOT NULL REFERENCES need (id),
    version     BIGINT NOT NULL,
    -- The `need` row (to_jsonb), read back with jsonb_populate_record(NULL::need, …).
    need        JSONB NOT NULL,
    -- The consent in force at that version (to_jsonb of its `consent` row), NULL when none.
    consent     JSONB,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (need_id, version)
);

-- SET search_path FROM CURRENT: the function finds intake's tables whoever calls it.
CREATE FUNCTION keep_need_version() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO need_version (need_id, version, need, consent)
    VALUES (NEW.id, NEW.version,
            to_jsonb(NEW) - 'notes_key_id' - 'notes_nonce' - 'notes_sealed',
            (SELECT to_jsonb(c) FROM consent c WHERE c.need_id = NEW.id AND c.withdrawn_at IS NULL));
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER need_version_on_insert AFTER INSERT ON need
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION keep_need_version();
-- Only a new version is a version: the follow-up flag and the accepted organisation change
-- the row without one.
CREATE CONSTRAINT TRIGGER need_version_on_update AFTER UPDATE ON need
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version) EXECUTE FUNCTION keep_need_version();

-- Needs older than this migration keep their current version; a resume from before it starts
-- there. (The migration's connection has no tenant; '*' lets it read every need.)
SELECT set_config('tsunagu.tenant', '*', true);
INSERT INTO need_version (need_id, version, need, consent)
SELECT n.id, n.version, to_jsonb(n) - 'notes_key_id' - 'notes_nonce' - 'notes_sealed',
       (SELECT to_jsonb(c) FROM consent c WHERE c.need_id = n.id AND c.withdrawn_at IS NULL)
FROM need n;

-- A snapshot is written once and never changed. It follows its need, like the history.
GRANT SELECT, INSERT ON need_version TO tsunagu_intake_app;
REVOKE UPDATE, DELETE ON need_version FROM tsunagu_intake_app;
ALTER TABLE need_version ENABLE ROW LEVEL SECURITY;
ALTER TABLE need_version FORCE ROW LEVEL SECURITY;
-- OFFSET 0: a probe by key in every cached plan (migration 111).
CREATE POLICY need_version_of_tenant ON need_version
    USING (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id OFFSET 0))
    WITH CHECK (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id OFFSET 0));
