-- Issue 17: templates were one set for the whole deployment, so one prefecture's
-- administrator changed the texts every other prefecture's recipients got. A version now
-- belongs to a scope: '' the whole deployment (the versions written before this migration,
-- which applied everywhere, stay so), a prefecture's code or a municipality's code. The most
-- specific scope with a version wins at rendering (municipality, prefecture, deployment, then
-- the bundled version 1). Versions stay numbered per (key, locale) across scopes, so a
-- rendered notification's (template_key, template_version) still names one text.
ALTER TABLE template ADD COLUMN scope TEXT NOT NULL DEFAULT '';
CREATE INDEX template_in_scope ON template (key, locale, scope, version DESC);
