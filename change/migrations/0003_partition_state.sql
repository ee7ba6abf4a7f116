-- Online conversions of tables to partitioned tables (package partition): one row per
-- conversion, keyed by the OID the source table had when it began, holding the plan it
-- follows and how far the copy got, so a killed run resumes without loss or duplicates.
CREATE TABLE IF NOT EXISTS pgmedic.partition_migrations (
    id            bigint PRIMARY KEY,
    source        text NOT NULL,
    spec          jsonb NOT NULL,
    phase         text NOT NULL DEFAULT 'planned',
    hwm           text,
    copy_done     boolean NOT NULL DEFAULT false,
    rows_copied   bigint NOT NULL DEFAULT 0,
    rows_replayed bigint NOT NULL DEFAULT 0,
    cutover_ms    double precision,
    started_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    swapped_at    timestamptz,
    finished_at   timestamptz
);
COMMENT ON TABLE pgmedic.partition_migrations IS 'pgmedic partition migrate: state of each online conversion.';
-- Partitions pgmedic archived before dropping them (retention): where the dump is, its
-- SHA-256, and the row count and content hash the restored copy was compared with.
CREATE TABLE IF NOT EXISTS pgmedic.partition_archives (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent       text NOT NULL,
    partition    text NOT NULL,
    bound        text NOT NULL,
    file         text NOT NULL,
    sha256       text NOT NULL,
    rows         bigint NOT NULL,
    content_hash text NOT NULL,
    archived_at  timestamptz NOT NULL DEFAULT now(),
    dropped_at   timestamptz
);
