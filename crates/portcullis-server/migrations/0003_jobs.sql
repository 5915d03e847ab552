-- Background work shared by every instance: each job is claimed by one worker at a time
-- (claimed_until is its lease), retried with a growing delay, and kept once done.

CREATE TABLE jobs (
    id {pk},
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    run_after BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_until BIGINT,
    done_at BIGINT,
    last_error TEXT
);
CREATE INDEX jobs_due ON jobs (done_at, run_after);
