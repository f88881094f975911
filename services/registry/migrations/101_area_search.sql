-- Search areas by name or reading: NFKC (half-width kana and full-width letters fold),
-- lower case, and katakana folded to hiragana, so おおがき, オオガキ and ｵｵｶﾞｷ all find 大垣市.
-- One implementation, in the database: the stored key and the query go through the same fold.

DO $$
BEGIN
    IF current_setting('server_encoding') <> 'UTF8' THEN
        RAISE EXCEPTION 'Tsunagu needs a UTF-8 database (this one is %)', current_setting('server_encoding');
    END IF;
END
$$;

CREATE FUNCTION search_fold(input TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN translate(
    lower(normalize(input, NFKC)),
    'ァアィイゥウェエォオカガキギクグケゲコゴサザシジスズセゼソゾタダチヂッツヅテデトドナニヌネノハバパヒビピフブプヘベペホボポマミムメモャヤュユョヨラリルレロヮワヰヱヲンヴヵヶ',
    'ぁあぃいぅうぇえぉおかがきぎくぐけげこごさざしじすずせぜそぞただちぢっつづてでとどなにぬねのはばぱひびぴふぶぷへべぺほぼぽまみむめもゃやゅゆょよらりるれろゎわゐゑをんゔゕゖ'
);

ALTER TABLE area
    ADD COLUMN search_key TEXT GENERATED ALWAYS AS (search_fold(name || ' ' || name_kana)) STORED;
