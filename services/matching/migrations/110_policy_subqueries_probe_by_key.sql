-- A provider reads a need through its proposal: an EXISTS subquery in the need's policy. In a
-- cached generic plan made while the tables were new, PostgreSQL may hash that subquery — a
-- full scan of `proposal` on every statement that reads `need`, growing with every proposal.
-- `OFFSET 0` keeps it a correlated probe by key (see intake's migration 111). Same rule.

DROP POLICY need_of_tenant ON need;
CREATE POLICY need_of_tenant ON need
    USING (tenant_reads(municipality_code)
           OR EXISTS (SELECT 1 FROM proposal p WHERE p.need_id = need.id AND acts_for(p.organization_id) OFFSET 0))
    WITH CHECK (current_setting('tsunagu.tenant', true) IN (municipality_code, '*'));
