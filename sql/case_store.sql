-- Case store DDL (PostgreSQL), generated from pipelines/casestore/schema.py.
-- Do not edit: run `python -m pipelines.casestore.schema` to regenerate.

CREATE TABLE cases (
    case_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    customer_id TEXT,
    account_id TEXT,
    msisdn TEXT,
    iccid TEXT,
    invoice_id TEXT,
    transaction_id TEXT,
    letter_id TEXT,
    period_start DATE,
    period_end DATE,
    amount_at_risk NUMERIC(18, 2),
    currency TEXT,
    summary TEXT,
    evidence TEXT,
    status TEXT NOT NULL,
    resolution TEXT,
    owner TEXT,
    first_seen DATE NOT NULL,
    last_seen DATE NOT NULL,
    closed_on DATE,
    times_seen INTEGER NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    decided_on DATE,
    next_update_by DATE,
    letter_send_date DATE,
    amount_kind TEXT,
    CONSTRAINT pk_cases PRIMARY KEY (case_id),
    CONSTRAINT ck_cases_status CHECK (status IN ('open', 'acknowledged', 'resolved', 'false_positive', 'withdrawn')),
    CONSTRAINT ck_cases_amount_kind CHECK (amount_kind IN ('refund_due', 'revenue_leakage', 'misbilled', 'revenue_at_risk')),
    CONSTRAINT ck_cases_closed_on CHECK (closed_on IS NULL OR resolution = 'no_longer_detected'),
    CONSTRAINT ck_cases_seen_order CHECK (first_seen <= last_seen)
);

CREATE INDEX ix_cases_customer_id ON cases (customer_id);

CREATE INDEX ix_cases_queue ON cases (status, owner, severity, rule_id, first_seen, amount_at_risk, letter_send_date, next_update_by, case_id);

CREATE INDEX ix_cases_rule_id_status ON cases (rule_id, status);

CREATE INDEX ix_cases_status_last_seen ON cases (status, last_seen);

CREATE TABLE runs (
    run_id TEXT NOT NULL,
    business_date DATE NOT NULL,
    started_at TIMESTAMP WITH TIME ZONE NOT NULL,
    finished_at TIMESTAMP WITH TIME ZONE,
    detections INTEGER,
    counts JSON,
    CONSTRAINT pk_runs PRIMARY KEY (run_id)
);

CREATE INDEX ix_runs_business_date ON runs (business_date);

CREATE TABLE users (
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    disabled BOOLEAN NOT NULL,
    session_epoch INTEGER NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT pk_users PRIMARY KEY (name),
    CONSTRAINT ck_users_role CHECK (role IN ('agent', 'lead', 'auditor', 'admin'))
);

CREATE TABLE api_tokens (
    id SERIAL NOT NULL,
    user_name TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    label TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    last_used_at TIMESTAMP WITH TIME ZONE,
    revoked_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT pk_api_tokens PRIMARY KEY (id),
    CONSTRAINT fk_api_tokens_user_name_users FOREIGN KEY(user_name) REFERENCES users (name),
    CONSTRAINT uq_api_tokens_token_sha256 UNIQUE (token_sha256)
);

CREATE INDEX ix_api_tokens_user_name ON api_tokens (user_name);

CREATE TABLE case_history (
    id SERIAL NOT NULL,
    case_id TEXT NOT NULL,
    at TIMESTAMP WITH TIME ZONE NOT NULL,
    business_date DATE,
    run_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    old_status TEXT,
    new_status TEXT,
    note TEXT,
    changes JSON,
    CONSTRAINT pk_case_history PRIMARY KEY (id),
    CONSTRAINT ck_case_history_action CHECK (action IN ('created', 'details_changed', 'closed', 'reopened', 'status_changed', 'assigned', 'contacted', 'withdrawn')),
    CONSTRAINT fk_case_history_case_id_cases FOREIGN KEY(case_id) REFERENCES cases (case_id),
    CONSTRAINT fk_case_history_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (run_id)
);

CREATE INDEX ix_case_history_case_id_id ON case_history (case_id, id);

CREATE TABLE case_sightings (
    case_id TEXT NOT NULL,
    business_date DATE NOT NULL,
    amount_at_risk NUMERIC(18, 2),
    currency TEXT,
    status TEXT NOT NULL,
    first_seen DATE NOT NULL,
    run_id TEXT NOT NULL,
    CONSTRAINT pk_case_sightings PRIMARY KEY (case_id, business_date),
    CONSTRAINT fk_case_sightings_case_id_cases FOREIGN KEY(case_id) REFERENCES cases (case_id),
    CONSTRAINT fk_case_sightings_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (run_id)
);

CREATE INDEX ix_case_sightings_business_date ON case_sightings (business_date);

CREATE TABLE recoveries (
    id SERIAL NOT NULL,
    case_id TEXT NOT NULL,
    recovered_on DATE NOT NULL,
    amount NUMERIC(18, 2),
    currency TEXT,
    amount_kind TEXT,
    method TEXT NOT NULL,
    evidence TEXT,
    business_date DATE,
    run_id TEXT,
    actor TEXT NOT NULL,
    recorded_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT pk_recoveries PRIMARY KEY (id),
    CONSTRAINT ck_recoveries_method CHECK (method IN ('no_longer_detected', 'credit_note', 're_bill', 'letter_held')),
    CONSTRAINT ck_recoveries_amount_kind CHECK (amount_kind IN ('refund_due', 'revenue_leakage', 'misbilled', 'revenue_at_risk')),
    CONSTRAINT fk_recoveries_case_id_cases FOREIGN KEY(case_id) REFERENCES cases (case_id),
    CONSTRAINT fk_recoveries_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (run_id)
);

CREATE INDEX ix_recoveries_case_id_id ON recoveries (case_id, id);

CREATE INDEX ix_recoveries_recovered_on ON recoveries (recovered_on);

CREATE TABLE casestore_alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT casestore_alembic_version_pkc PRIMARY KEY (version_num)
);

INSERT INTO casestore_alembic_version (version_num) VALUES ('0004_amount_kind_recoveries');
