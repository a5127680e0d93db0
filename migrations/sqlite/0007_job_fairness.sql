-- Fair claiming counts each company's running jobs.
CREATE INDEX jobs_state_company ON jobs (state, company_id);
