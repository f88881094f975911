-- Categories a municipality added to the taxonomy (registry `category.created`), so that a
-- need named by their Japanese name (草刈り) is stored under the code resources use
-- (212024.kusakari), as bundled names already are.
CREATE TABLE municipal_category (
    code              TEXT PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    name              TEXT NOT NULL,
    -- The name as compared: folded (kana, width, case) and without spaces.
    name_key          TEXT NOT NULL,
    parent_code       TEXT NOT NULL
);
CREATE INDEX municipal_category_name ON municipal_category (municipality_code, name_key);
