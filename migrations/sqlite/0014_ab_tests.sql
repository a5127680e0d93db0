-- A/B experiments (issue #18): experiments per company and analysis type, and on each analysis
-- the experiment and variant that ran it. A shadow analysis names the analysis whose verdict
-- counts (ab_shadow_of) and is left out of the folder's views, aggregate and webhooks.

CREATE TABLE ab_tests (
    ab_test_id        TEXT PRIMARY KEY,
    company_id        TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    analysis_type     TEXT NOT NULL,
    mode              TEXT NOT NULL,
    state             TEXT NOT NULL,
    rule              TEXT,
    variants          TEXT NOT NULL,
    created_by        TEXT,
    time_created      BIGINT NOT NULL,
    time_updated      BIGINT NOT NULL,
    time_started      BIGINT,
    time_stopped      BIGINT
);
CREATE INDEX ab_tests_company ON ab_tests (company_id, time_created);
-- One running experiment per company and analysis type, whichever replica starts it.
CREATE UNIQUE INDEX ab_tests_one_running ON ab_tests (company_id, analysis_type) WHERE state = 'running';

ALTER TABLE analyses ADD COLUMN ab_test_id TEXT;
ALTER TABLE analyses ADD COLUMN ab_variant TEXT;
ALTER TABLE analyses ADD COLUMN ab_shadow_of TEXT;
ALTER TABLE analyses ADD COLUMN ab_fallback TEXT;
-- The headline score of a finished analysis (confidence_spoofing, min_confidence), which the
-- experiment statistics aggregate in the database.
ALTER TABLE analyses ADD COLUMN score REAL;
CREATE INDEX analyses_ab_test ON analyses (ab_test_id, ab_variant) WHERE ab_test_id IS NOT NULL;
CREATE INDEX analyses_ab_shadow_of ON analyses (ab_shadow_of) WHERE ab_shadow_of IS NOT NULL;
