-- What a need asks for, beyond area and category (issue 4): a coarse location (never the
-- address), when and how often, dates, eligibility, the fee accepted, requirements, how it
-- arrived and who passed it on, and private notes, sealed like residents' personal data.
ALTER TABLE need
    -- Rounded by intake to a grid of 0.005° (about 500 m).
    ADD COLUMN location_lat     DOUBLE PRECISION,
    ADD COLUMN location_lon     DOUBLE PRECISION,
    -- [{"weekday":2,"start_minute":540,"end_minute":720}, …]
    ADD COLUMN time_windows     JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN frequency_times  INTEGER,
    ADD COLUMN frequency_per    TEXT CHECK (frequency_per IN ('once', 'week', 'month')),
    ADD COLUMN start_date       DATE,
    ADD COLUMN deadline         DATE,
    ADD COLUMN eligibility      TEXT,
    -- NULL: any fee; 0: free only.
    ADD COLUMN max_fee_yen      INTEGER CHECK (max_fee_yen >= 0),
    -- {"wheelchair_vehicle":bool,"helper_gender":"female"|null,"helper_gender_required":bool,
    --  "languages":[…],"preferred_helper_id":uuid|null}
    ADD COLUMN requirements     JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN channel          TEXT,
    ADD COLUMN referrer_name    TEXT NOT NULL DEFAULT '',
    ADD COLUMN referrer_organization_id UUID,
    ADD COLUMN referrer_contact TEXT NOT NULL DEFAULT '',
    -- Private notes, sealed (XChaCha20-Poly1305, the key's id with them); NULL when none.
    ADD COLUMN notes_key_id     TEXT,
    ADD COLUMN notes_nonce      BYTEA,
    ADD COLUMN notes_sealed     BYTEA,
    ADD COLUMN submitted_by     TEXT NOT NULL DEFAULT '',
    -- Set by the follow-up sweep when the need has been idle past the period; cleared by
    -- the next change of status.
    ADD COLUMN follow_up_due_at TIMESTAMPTZ,
    ADD CONSTRAINT need_dates_in_order CHECK (deadline IS NULL OR start_date IS NULL OR deadline >= start_date);
CREATE INDEX need_list ON need (municipality_code, status, id);

-- Every edit of a need's fields (UpdateNeed): which fields, who, why. The values of private
-- fields are not copied here; the status history is `need_status_history`.
CREATE TABLE need_edit (
    id         UUID PRIMARY KEY,
    need_id    UUID NOT NULL REFERENCES need (id),
    version    BIGINT NOT NULL,
    fields     TEXT[] NOT NULL,
    changed_by TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX need_edit_need ON need_edit (need_id, id);

-- Consent (domain.md §7): who consented, how, when, recorded by whom, and its scope. At most
-- one consent of a need is current (not withdrawn); a new one replaces it.
CREATE TABLE consent (
    id                UUID PRIMARY KEY,
    need_id           UUID NOT NULL REFERENCES need (id),
    given_by          TEXT NOT NULL CHECK (given_by IN ('resident', 'family', 'guardian')),
    method            TEXT NOT NULL CHECK (method IN ('written', 'verbal', 'electronic')),
    share_need        BOOLEAN NOT NULL,
    share_contact     BOOLEAN NOT NULL,
    consented_at      TIMESTAMPTZ NOT NULL,
    recorded_by       TEXT NOT NULL,
    recorded_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    withdrawn_at      TIMESTAMPTZ,
    withdrawn_by      TEXT,
    withdrawal_reason TEXT,
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL))
);
CREATE UNIQUE INDEX consent_current ON consent (need_id) WHERE withdrawn_at IS NULL;

-- Every read of a resident's contact details through GetSharedContact: who asked, when.
CREATE TABLE contact_disclosure (
    id              UUID PRIMARY KEY,
    need_id         UUID NOT NULL REFERENCES need (id),
    organization_id UUID,
    disclosed_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
