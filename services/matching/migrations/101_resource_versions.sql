-- Registry events carry the resource's version: an older event than the one applied is
-- ignored (a redelivery may reorder them). A resource that is deleted, inactive or closed
-- stays in the read model (proposals refer to it) but takes no new need.
ALTER TABLE resource
    ADD COLUMN version BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN accepting BOOLEAN NOT NULL DEFAULT true;
