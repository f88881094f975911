-- A need may name the resident it is for, by pseudonymous id only.
ALTER TABLE need ADD COLUMN resident_id UUID REFERENCES resident (id);
CREATE INDEX need_resident ON need (resident_id) WHERE resident_id IS NOT NULL;
