-- Accounts, sessions, advisories and the audit log. One file for both backends: `{pk}` becomes
-- the backend's auto-increment primary key (see src/db.rs). Times are Unix seconds (BIGINT):
-- the one integer type both backends decode the same way.

CREATE TABLE users (
    id {pk},
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'officer', 'member')),
    password_hash TEXT,
    totp_secret TEXT,
    totp_enabled BIGINT NOT NULL DEFAULT 0,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE groups_ (
    id {pk},
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id BIGINT NOT NULL REFERENCES groups_(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);

-- The cookie holds a random id; only its SHA-256 is stored, so a database read does not yield
-- live sessions. user_id is NULL for the anonymous session that carries the login form's CSRF token.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    stage TEXT NOT NULL CHECK (stage IN ('anonymous', 'second_factor', 'enrol_second_factor', 'full')),
    csrf_token TEXT NOT NULL,
    pending_totp_secret TEXT,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE recovery_codes (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Failed logins, keyed 'account:<email>' and 'address:<ip>', for rate limiting and lockout. In the
-- database, not in memory, so every instance behind a load balancer sees the same counts.
CREATE TABLE login_failures (
    id {pk},
    key_ TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key_, at);

-- TOTP codes already accepted, so a code seen on the wire cannot be replayed in its window.
CREATE TABLE totp_used (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    step BIGINT NOT NULL,
    PRIMARY KEY (user_id, step)
);

CREATE TABLE invitations (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE api_tokens (
    id {pk},
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used BIGINT,
    revoked BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE advisories (
    id {pk},
    title TEXT NOT NULL,
    body_markdown TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    state TEXT NOT NULL CHECK (state IN ('draft', 'published', 'archived')),
    audience TEXT NOT NULL CHECK (audience IN ('everyone', 'selected')),
    acknowledge_by BIGINT,
    posture_rule TEXT,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    published_at BIGINT,
    archived_at BIGINT
);

CREATE TABLE advisory_groups (
    advisory_id BIGINT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES groups_(id) ON DELETE CASCADE,
    PRIMARY KEY (advisory_id, group_id)
);

CREATE TABLE advisory_members (
    advisory_id BIGINT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (advisory_id, user_id)
);

CREATE TABLE advisory_receipts (
    advisory_id BIGINT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    read_at BIGINT,
    acknowledged_at BIGINT,
    steps_confirmed BIGINT NOT NULL DEFAULT 0,
    last_reminded_at BIGINT,
    PRIMARY KEY (advisory_id, user_id)
);

CREATE TABLE reminders (
    id {pk},
    advisory_id BIGINT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sent_at BIGINT NOT NULL,
    sent_by BIGINT REFERENCES users(id),
    outcome TEXT NOT NULL
);

-- Append-only: the backend-specific triggers in src/db.rs refuse UPDATE and DELETE.
CREATE TABLE audit_log (
    id {pk},
    at BIGINT NOT NULL,
    actor_id BIGINT,
    actor_email TEXT,
    action TEXT NOT NULL,
    target TEXT,
    address TEXT,
    details TEXT NOT NULL
);
