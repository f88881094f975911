-- A municipality's own categories, added under the bundled taxonomy (which ships in the code,
-- tsunagu_runtime::taxonomy, so every service resolves it without asking the registry).
CREATE TABLE category (
    code              TEXT PRIMARY KEY,      -- '<municipality_code>.<slug>'
    municipality_code TEXT NOT NULL,
    parent_code       TEXT NOT NULL,
    name              TEXT NOT NULL,
    name_kana         TEXT NOT NULL DEFAULT '',
    description       TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (municipality_code, name)
);
