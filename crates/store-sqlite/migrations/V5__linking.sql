-- Linking enrolments to residents (issue 4). An enrolment written with an ID number that a
-- resident holds is linked at upload; the rest wait ('pending') for the link job, which links
-- them through the matching model, queues uncertain pairs for clerical review, or reports them
-- as not found in the base data.

ALTER TABLE enrolments ADD COLUMN link_status TEXT NOT NULL DEFAULT 'pending'
    CHECK (link_status IN ('pending', 'linked', 'review', 'not_found'));
ALTER TABLE enrolments ADD COLUMN link_method TEXT
    CHECK (link_method IN ('id_number', 'model', 'review'));
ALTER TABLE enrolments ADD COLUMN link_probability REAL;
UPDATE enrolments SET link_status = 'linked', link_method = 'id_number', link_probability = 1.0
    WHERE resident_id IS NOT NULL;
-- The link job and the not-found report read one dataset's records in one status, in key order.
CREATE INDEX enrolments_link_status ON enrolments (dataset, link_status, record_key)
    WHERE status = 'active';

-- Candidate pairs the model is unsure of. A pair is scored at one version of the enrolment;
-- a newer version of the record closes its open pairs.
CREATE TABLE match_reviews (
    id                TEXT NOT NULL PRIMARY KEY,
    dataset           TEXT NOT NULL,
    record_key        TEXT NOT NULL,
    resident_id       TEXT NOT NULL REFERENCES residents (resident_id),
    probability       REAL NOT NULL,
    explanation       TEXT NOT NULL,
    enrolment_version INTEGER NOT NULL,
    status            TEXT NOT NULL
        CHECK (status IN ('pending', 'accepted', 'rejected', 'superseded')),
    created_at        TEXT NOT NULL,
    decided_by        TEXT,
    decided_at        TEXT,
    FOREIGN KEY (dataset, record_key) REFERENCES enrolments (dataset, record_key)
);
CREATE UNIQUE INDEX match_reviews_pair
    ON match_reviews (dataset, record_key, resident_id, enrolment_version);
CREATE INDEX match_reviews_record ON match_reviews (dataset, record_key) WHERE status = 'pending';
CREATE INDEX match_reviews_queue ON match_reviews (status, dataset, id);
