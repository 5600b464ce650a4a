-- Schema version 4: `file_generation` and `jobs` accept the detached A and
-- BOC files. SQLite cannot change a CHECK constraint in place, so each table
-- is rebuilt with the same columns in the same order, its rows copied, and
-- its indexes made again (foreign keys are off during upgrades and checked
-- before the step commits).
CREATE TABLE file_generation_v4 (
    file_generation_id INTEGER PRIMARY KEY,
    request_date DATE NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    agency_code TEXT NOT NULL,
    agency_type TEXT NOT NULL DEFAULT 'awarding' CHECK (agency_type IN ('awarding', 'funding')),
    file_type TEXT NOT NULL CHECK (file_type IN ('D1', 'D2', 'A', 'BOC')),
    file_format TEXT NOT NULL DEFAULT 'csv' CHECK (file_format IN ('csv', 'txt')),
    is_cached_file BOOLEAN NOT NULL DEFAULT 0 CHECK (is_cached_file IN (0, 1)),
    file_path TEXT,
    element_numbers BOOLEAN NOT NULL DEFAULT 0 CHECK (element_numbers IN (0, 1)),
    requested_at TIMESTAMP,
    file_size INTEGER,
    number_of_rows INTEGER
);
INSERT INTO file_generation_v4 SELECT * FROM file_generation;
DROP TABLE file_generation;
ALTER TABLE file_generation_v4 RENAME TO file_generation;
CREATE INDEX file_generation_cache
    ON file_generation (file_type, agency_code, start_date, end_date, is_cached_file);

CREATE TABLE jobs_v4 (
    job_id INTEGER PRIMARY KEY,
    submission_id INTEGER REFERENCES submissions (submission_id) ON DELETE CASCADE,
    job_type TEXT NOT NULL
        CHECK (job_type IN ('file_upload', 'csv_record_validation', 'validation')),
    file_type TEXT CHECK (file_type IN ('A', 'B', 'C', 'D1', 'D2', 'E', 'F', 'FABS', 'BOC')),
    job_status TEXT NOT NULL DEFAULT 'waiting'
        CHECK (job_status IN ('waiting', 'ready', 'running', 'finished', 'invalid', 'failed')),
    filename TEXT,
    original_filename TEXT,
    file_size INTEGER,
    number_of_rows INTEGER,
    number_of_errors INTEGER NOT NULL DEFAULT 0,
    number_of_warnings INTEGER NOT NULL DEFAULT 0,
    error_message TEXT,
    start_date DATE,
    end_date DATE,
    file_generation_id INTEGER REFERENCES file_generation (file_generation_id),
    user_id INTEGER REFERENCES users (user_id),
    updated_at TIMESTAMP NOT NULL,
    last_validated TIMESTAMP,
    CHECK ((job_type = 'validation') = (file_type IS NULL))
);
INSERT INTO jobs_v4 SELECT * FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v4 RENAME TO jobs;
CREATE INDEX jobs_submission ON jobs (submission_id, file_type, job_type);
CREATE INDEX jobs_file_generation ON jobs (file_generation_id);
