-- Residents (利用者). Other services know a resident only by `id`, a pseudonym; the personal
-- data (name, reading, address, phone, birth date, care level, notes) is sealed by intake
-- with a key from its configuration and stored here only as ciphertext, with the key's id.
CREATE TABLE resident (
    id                    UUID PRIMARY KEY,
    municipality_code     TEXT NOT NULL,
    request_id            TEXT NOT NULL,
    key_id                TEXT NOT NULL,
    nonce                 BYTEA NOT NULL,
    sealed                BYTEA NOT NULL,
    -- Keyed hash of reading + birth date, for duplicate detection without decrypting.
    duplicate_key_id      TEXT,
    duplicate_key         BYTEA,
    possible_duplicate_of UUID REFERENCES resident (id),
    registered_by         TEXT NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (municipality_code, request_id)
);
CREATE INDEX resident_duplicate ON resident (municipality_code, duplicate_key);
