-- The organisation whose proposal the need accepted (match.accepted), so that intake can tell
-- whether a provider asking for the resident's contact (GetSharedContact) is the one helping.
ALTER TABLE need ADD COLUMN accepted_organization_id UUID;
