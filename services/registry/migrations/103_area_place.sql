-- Where an area is: a representative point (WGS84) and a boundary (a GeoJSON geometry).
ALTER TABLE area
    ADD COLUMN latitude DOUBLE PRECISION,
    ADD COLUMN longitude DOUBLE PRECISION,
    ADD COLUMN boundary JSONB,
    ADD CONSTRAINT area_location_complete CHECK ((latitude IS NULL) = (longitude IS NULL)),
    ADD CONSTRAINT area_location_on_earth CHECK (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180);
