-- The partition count a partitioned service's workers last drained the queues of earlier
-- layouts to (crate::partitions). While it equals the configured count, a starting worker has
-- nothing of an earlier layout to look for. One row at most.
CREATE TABLE partition_layout (
    singleton   BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    partitions  INTEGER NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
