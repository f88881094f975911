-- The row-level-security policies that look up a row's need (or a resident's accepted need)
-- are EXISTS subqueries. In a cached generic plan made while the tables were new and never
-- analysed, PostgreSQL turned them into a *hashed* subplan: a full scan of `need` on every
-- statement (a consent lookup took 1.3 ms after 1,000 needs and grew with every need — the
-- "intake.need read in full once per need" of the load benchmark). `OFFSET 0` keeps each
-- subquery a correlated probe by key (the planner cannot flatten or hash a subquery with an
-- OFFSET), whatever the statistics were when the plan was cached. The rules are unchanged.

DROP POLICY need_status_history_of_tenant ON need_status_history;
CREATE POLICY need_status_history_of_tenant ON need_status_history
    USING (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id OFFSET 0))
    WITH CHECK (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id OFFSET 0));

DROP POLICY need_edit_of_tenant ON need_edit;
CREATE POLICY need_edit_of_tenant ON need_edit
    USING (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id OFFSET 0))
    WITH CHECK (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id OFFSET 0));

DROP POLICY consent_of_tenant ON consent;
CREATE POLICY consent_of_tenant ON consent
    USING (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id OFFSET 0))
    WITH CHECK (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id OFFSET 0));

DROP POLICY contact_disclosure_of_tenant ON contact_disclosure;
CREATE POLICY contact_disclosure_of_tenant ON contact_disclosure
    USING (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id OFFSET 0))
    WITH CHECK (EXISTS (SELECT 1 FROM need n WHERE n.id = need_id OFFSET 0));

DROP POLICY resident_of_tenant ON resident;
CREATE POLICY resident_of_tenant ON resident
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*')
           OR EXISTS (SELECT 1 FROM need n
                      WHERE n.resident_id = resident.id
                        AND n.accepted_organization_id::text = NULLIF(current_setting('tsunagu.organization', true), '')
                      OFFSET 0))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));

DROP POLICY audit_entry_of_tenant ON audit_entry;
CREATE POLICY audit_entry_of_tenant ON audit_entry
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*')
                OR (object_kind = 'contact'
                    AND EXISTS (SELECT 1 FROM need n
                                WHERE n.id = object_id AND n.municipality_code = audit_entry.municipality_code
                                  AND n.accepted_organization_id::text
                                      = NULLIF(current_setting('tsunagu.organization', true), '')
                                OFFSET 0)));
