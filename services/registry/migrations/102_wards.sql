-- Wards (区) of designated cities join the area tree, between the city and its daily-life areas.
ALTER TABLE area DROP CONSTRAINT area_kind_check;
ALTER TABLE area ADD CONSTRAINT area_kind_check
    CHECK (kind IN ('prefecture', 'municipality', 'ward', 'daily_life_area'));
