-- Devices, the checks submitted for them (findings only), and the incidents their alerts open.

CREATE TABLE devices (
    id {pk},
    owner_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    last_submission_at BIGINT,
    revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX devices_owner ON devices (owner_id);

-- One submitted check: the findings document (no records, messages or history) and the
-- figures the fleet view shows. body_sha256 refuses the same document twice (a replay).
CREATE TABLE submissions (
    id {pk},
    device_id BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    received_at BIGINT NOT NULL,
    checked_at TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    platform TEXT,
    model TEXT,
    os_version TEXT,
    alerts BIGINT NOT NULL,
    highest_level TEXT,
    posture_failing BIGINT NOT NULL,
    coverage TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    document TEXT NOT NULL,
    UNIQUE (device_id, body_sha256)
);
CREATE INDEX submissions_device ON submissions (device_id, id);

-- A HIGH or CRITICAL alert opens one incident per device and indicator (or heuristic); later
-- checks that raise it again are added to the same incident while it is not closed.
CREATE TABLE incidents (
    id {pk},
    device_id BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    match_key TEXT NOT NULL,
    level TEXT NOT NULL,
    title TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'investigating', 'resolved', 'false_positive')),
    assignee_id BIGINT REFERENCES users(id),
    first_submission_id BIGINT NOT NULL REFERENCES submissions(id),
    last_submission_id BIGINT NOT NULL REFERENCES submissions(id),
    opened_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX incidents_device_key ON incidents (device_id, match_key);

CREATE TABLE incident_events (
    id {pk},
    incident_id BIGINT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    actor_id BIGINT REFERENCES users(id),
    kind TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);
