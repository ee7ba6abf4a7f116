-- Primary and foreign keys, added after the bulk load (as pg_restore does): building an
-- index once is faster than maintaining it row by row, and checking a foreign key once is
-- faster than checking every row as it arrives. claim_lines' primary key leads with
-- claim_id, so its foreign key is the only one with an index behind it.

ALTER TABLE payers         ADD CONSTRAINT payers_pkey         PRIMARY KEY (id);
ALTER TABLE plans          ADD CONSTRAINT plans_pkey          PRIMARY KEY (id);
ALTER TABLE providers      ADD CONSTRAINT providers_pkey      PRIMARY KEY (id);
ALTER TABLE patients       ADD CONSTRAINT patients_pkey       PRIMARY KEY (id);
ALTER TABLE icd10_codes    ADD CONSTRAINT icd10_codes_pkey    PRIMARY KEY (code);
ALTER TABLE cpt_codes      ADD CONSTRAINT cpt_codes_pkey      PRIMARY KEY (code);
ALTER TABLE hcpcs_codes    ADD CONSTRAINT hcpcs_codes_pkey    PRIMARY KEY (code);
ALTER TABLE claims         ADD CONSTRAINT claims_pkey         PRIMARY KEY (id);
ALTER TABLE claim_lines    ADD CONSTRAINT claim_lines_pkey    PRIMARY KEY (claim_id, line_number);
ALTER TABLE appointments   ADD CONSTRAINT appointments_pkey   PRIMARY KEY (id);
ALTER TABLE availabilities ADD CONSTRAINT availabilities_pkey PRIMARY KEY (id);
ALTER TABLE payments       ADD CONSTRAINT payments_pkey       PRIMARY KEY (id);
ALTER TABLE users          ADD CONSTRAINT users_pkey          PRIMARY KEY (id);
ALTER TABLE audit_logs     ADD CONSTRAINT audit_logs_pkey     PRIMARY KEY (id);

ALTER TABLE plans          ADD CONSTRAINT plans_payer_id_fkey               FOREIGN KEY (payer_id)            REFERENCES payers (id);
ALTER TABLE patients       ADD CONSTRAINT patients_plan_id_fkey             FOREIGN KEY (plan_id)             REFERENCES plans (id);
ALTER TABLE patients       ADD CONSTRAINT patients_primary_provider_id_fkey FOREIGN KEY (primary_provider_id) REFERENCES providers (id);
ALTER TABLE claims         ADD CONSTRAINT claims_patient_id_fkey            FOREIGN KEY (patient_id)          REFERENCES patients (id);
ALTER TABLE claims         ADD CONSTRAINT claims_provider_id_fkey           FOREIGN KEY (provider_id)         REFERENCES providers (id);
ALTER TABLE claims         ADD CONSTRAINT claims_payer_id_fkey              FOREIGN KEY (payer_id)            REFERENCES payers (id);
ALTER TABLE claims         ADD CONSTRAINT claims_plan_id_fkey               FOREIGN KEY (plan_id)             REFERENCES plans (id);
ALTER TABLE claims         ADD CONSTRAINT claims_primary_diagnosis_fkey     FOREIGN KEY (primary_diagnosis)   REFERENCES icd10_codes (code);
ALTER TABLE claim_lines    ADD CONSTRAINT claim_lines_claim_id_fkey         FOREIGN KEY (claim_id)            REFERENCES claims (id);
ALTER TABLE claim_lines    ADD CONSTRAINT claim_lines_cpt_code_fkey         FOREIGN KEY (cpt_code)            REFERENCES cpt_codes (code);
ALTER TABLE claim_lines    ADD CONSTRAINT claim_lines_hcpcs_code_fkey       FOREIGN KEY (hcpcs_code)          REFERENCES hcpcs_codes (code);
ALTER TABLE claim_lines    ADD CONSTRAINT claim_lines_icd10_code_fkey       FOREIGN KEY (icd10_code)          REFERENCES icd10_codes (code);
ALTER TABLE appointments   ADD CONSTRAINT appointments_patient_id_fkey      FOREIGN KEY (patient_id)          REFERENCES patients (id);
ALTER TABLE appointments   ADD CONSTRAINT appointments_provider_id_fkey     FOREIGN KEY (provider_id)         REFERENCES providers (id);
ALTER TABLE availabilities ADD CONSTRAINT availabilities_provider_id_fkey   FOREIGN KEY (provider_id)         REFERENCES providers (id);
ALTER TABLE payments       ADD CONSTRAINT payments_claim_id_fkey            FOREIGN KEY (claim_id)            REFERENCES claims (id);
ALTER TABLE payments       ADD CONSTRAINT payments_payer_id_fkey            FOREIGN KEY (payer_id)            REFERENCES payers (id);
ALTER TABLE users          ADD CONSTRAINT users_patient_id_fkey             FOREIGN KEY (patient_id)          REFERENCES patients (id);
ALTER TABLE users          ADD CONSTRAINT users_provider_id_fkey            FOREIGN KEY (provider_id)         REFERENCES providers (id);
ALTER TABLE audit_logs     ADD CONSTRAINT audit_logs_user_id_fkey           FOREIGN KEY (user_id)             REFERENCES users (id);
