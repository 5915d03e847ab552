-- The organisation's indicator hub, and what earlier checks saw (as keyed digests only), so
-- that indicators the hub gains later find the devices that already met them.

-- The organisation's HMAC key for observation digests; devices fetch it with their token.
CREATE TABLE observation_keys (
    id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One row per digest a submitted check carried: never the value it stands for. Keyed by
-- digest, the re-check's lookup, and nothing else (hundreds of rows arrive with each check).
CREATE TABLE observations (
    digest TEXT NOT NULL,
    submission_id BIGINT NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    key_id TEXT NOT NULL,
    PRIMARY KEY (digest, submission_id)
){without_rowid};

-- A source of indicators: an upload (STIX2, MISP, CSV or a plain list), an address
-- (a STIX2 file, re-fetched conditionally), a TAXII 2.1 collection, the built-in set, or an
-- index of collections (each of its entries a feed of its own, with the index as parent).
CREATE TABLE hub_feeds (
    id {pk},
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    parent_id BIGINT REFERENCES hub_feeds(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    state TEXT,
    interval_minutes BIGINT,
    next_sync_at BIGINT,
    sha256 TEXT,
    indicators BIGINT NOT NULL DEFAULT 0,
    tlp TEXT,
    synced_at BIGINT,
    last_error TEXT,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);

-- The STIX objects each feed holds, in the order they were added (id), for the TAXII
-- collection; tlp_rank (0 clear or none … 4 red) filters what is shared.
CREATE TABLE hub_objects (
    id {pk},
    feed_id BIGINT NOT NULL REFERENCES hub_feeds(id) ON DELETE CASCADE,
    stix_id TEXT NOT NULL,
    modified TEXT NOT NULL,
    date_added BIGINT NOT NULL,
    tlp_rank BIGINT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (feed_id, stix_id)
);

-- The digests of the hub's indicator values under the current key, with what an incident
-- names; a digest new here is looked up in observations.
CREATE TABLE hub_digests (
    digest TEXT NOT NULL,
    stix_id TEXT NOT NULL,
    ioc_type TEXT NOT NULL,
    value TEXT NOT NULL,
    collection TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (digest, stix_id)
);
