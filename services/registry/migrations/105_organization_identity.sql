-- Who an organisation is and how to reach it: its parent (社協 → 地区社協), its 法人番号,
-- the 介護保険事業所番号 of the care services it runs, and its contact points.
ALTER TABLE organization
    ADD COLUMN parent_organization_id UUID REFERENCES organization (id),
    ADD COLUMN corporate_number TEXT CHECK (corporate_number ~ '^[0-9]{13}$'),
    ADD COLUMN care_provider_numbers TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN contact_points JSONB NOT NULL DEFAULT '[]';
CREATE INDEX organization_parent ON organization (parent_organization_id);
CREATE INDEX organization_corporate_number ON organization (corporate_number);
