-- Below the daily-life area: 小学校区, 地区社協区域, 自治会・町内会. Like daily-life areas they
-- have no official code; only prefectures, municipalities and wards have one.
ALTER TABLE area DROP CONSTRAINT area_kind_check;
ALTER TABLE area ADD CONSTRAINT area_kind_check CHECK (kind IN (
    'prefecture', 'municipality', 'ward', 'daily_life_area',
    'school_district', 'district_council_area', 'neighborhood_association'));
ALTER TABLE area DROP CONSTRAINT area_check1;
ALTER TABLE area ADD CONSTRAINT area_official_code
    CHECK ((kind IN ('prefecture', 'municipality', 'ward')) = (code IS NOT NULL));
