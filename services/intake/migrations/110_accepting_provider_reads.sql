-- The second wall, matched to the first: a provider whose proposal a need accepted may read
-- that need's contact (GetSharedContact, under the consent's contact scope), whichever
-- municipality the need is in — a resource may serve several. Its scope carries its
-- organisation (`tsunagu.organization`), so the need and its resident are visible to it too.
-- The API decides what of them leaves; the database only stops it from seeing anything else.
DROP POLICY need_of_tenant ON need;
CREATE POLICY need_of_tenant ON need
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*')
           OR accepted_organization_id::text = NULLIF(current_setting('tsunagu.organization', true), ''))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));

DROP POLICY resident_of_tenant ON resident;
CREATE POLICY resident_of_tenant ON resident
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*')
           OR EXISTS (SELECT 1 FROM need n
                      WHERE n.resident_id = resident.id
                        AND n.accepted_organization_id::text = NULLIF(current_setting('tsunagu.organization', true), '')))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));

-- Such a read is on the need's municipality's record: the provider may append that entry, and
-- no other entry of that municipality.
DROP POLICY audit_entry_of_tenant ON audit_entry;
CREATE POLICY audit_entry_of_tenant ON audit_entry
    USING (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*')
                OR (object_kind = 'contact'
                    AND EXISTS (SELECT 1 FROM need n
                                WHERE n.id = object_id AND n.municipality_code = audit_entry.municipality_code
                                  AND n.accepted_organization_id::text
                                      = NULLIF(current_setting('tsunagu.organization', true), ''))));
