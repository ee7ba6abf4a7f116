// Package healthcare is pgmedic's domain knowledge about protected health information
// (PHI): the Safe Harbor identifiers, which columns look like them, which values look like
// them, and what role each table plays in a healthcare schema. It never talks to a
// database; callers pass names, types and sampled values. Its verdicts are engineering
// heuristics to raise or lower the severity of findings, not legal determinations.
//
// # Taxonomy
//
// Identifier lists the 18 identifiers of 45 CFR 164.514(b)(2)(i)(A)-(R) in the order of
// the regulation, plus HealthInfo: diagnoses, procedures, medications, notes and results,
// which identify no one but make a record PHI once it is linked to someone.
//
// # Columns
//
// Column names are split into words at underscores, camelCase and digits (pt_last_nm,
// FirstName and ICD10Code become [pt last nm], [first name], [icd 10 code]) and looked up
// in a dictionary of word sequences; plurals match their singular. A dictionary entry that
// is the whole name scores 0.95, one that is part of the name 0.8, and ambiguous words
// (name, account, serial, age, a clinical event date) 0.5. Longer entries win over the
// words they contain, so email_address is an email and not an address. Then:
//
//   - Boolean columns are never identifiers (email_sent, phone_verified), nor are numeric
//     counts and measures (phone_count, num_visits, billed_amount).
//   - Words after a match that describe the value rather than hold it drop the match
//     (phone_type, email_status, ip_allowlist). Credentials (password_hash, api tokens) and
//     provider identifiers (npi, dea) are not patient PHI and get no match.
//   - The type limits what a column can hold: date and timestamp columns only dates, numeric
//     ones only coordinates, ages and lab values, integers no names or e-mail addresses,
//     inet only IP addresses (and any inet column is a weak IP address).
//   - A value word followed by _id (city_id, address_id) is a key to a lookup row: 0.3 at
//     most. An integer or uuid key named like a number (member_id integer) may be a
//     surrogate key: 0.5 at most. patient_id is an MRN candidate only as text.
//   - Dates are identifiers only for birth, death, admission, discharge and service (0.95
//     or 0.8), other clinical events (0.5), and ages; created_at and other record-keeping
//     timestamps are not. A year alone (year_of_birth) scores 0.4, since Safe Harbor lets
//     the year stay. State and country are not geographic identifiers (a State is not
//     smaller than a State).
//
// The validators (LooksLikeSSN, ValidNPI, LooksLikeEmail, ...) judge sampled values and
// are meant to be combined with the column name, not used alone.
//
// # Tables
//
// A table's Role comes from patientTables in the configuration, then its name, then its
// columns. Names lose prefixes (tbl_, dim_, stg_) and trailing qualifiers (_data, _header),
// and the last remaining word decides (patient_visits is an encounter, claim_header a
// claim), after a few compound rules: code tables (icd10_codes, concept), audit logs,
// schedules (availabilities, provider_schedule) and claim lines (claim_lines,
// claim_detail). When the name says nothing, a table with an MRN or beneficiary number and
// a name or birth date that refers to no patient is a patient table; one that refers to a
// patient and has a service date and an amount is a claim, or with an admission or
// discharge date instead, an encounter.
//
// A table is patient-linked when it is a patient table, has a patient key column
// (patient_id, person_id, member_id, bene_id), holds an MRN or beneficiary number, or
// refers to a claim, encounter or appointment (claim_id, visit_occurrence_id, or a foreign
// key to such a table): those rows each belong to one patient, so payments that reference
// claims are patient-linked.
//
// A table is PHI when:
//
//   - it is a patient table (it holds direct identifiers of individuals);
//   - it is patient-linked and has health information, a date, an amount or an identifier:
//     claims, claim lines, appointments, payments, and a users table that holds patient
//     accounts (patient_id and email);
//   - it is an audit log with a patient link or a generic record reference (record_id,
//     object_id): such a log says which patient records someone read or changed, so
//     pgmedic's own audit_logs is PHI, though not patient-linked since record_id points
//     at no particular table;
//   - it stores strong identifiers of individuals (name, SSN, MRN, beneficiary number,
//     birth date) together with health information, even without a link;
//   - or the configuration says so.
//
// Provider, payer, schedule and code tables are not PHI, though providers have names and
// phone numbers: the identifiers that matter are those of patients and their relatives.
// For the same reason a table of business contacts (vendors with name, phone and email)
// is not PHI. Priority is 2 for PHI in patient, claim and claim line tables, 1 for other
// PHI, 0 otherwise.
//
// # Overrides
//
// New reads config.Healthcare: phiTables make tables PHI, phiColumns make columns
// identifiers at confidence 1, notPHI removes tables and columns from classification, and
// patientTables make tables patient tables (in addition to those found by name). An entry
// without a schema matches that table in any schema; unquoted parts match
// case-insensitively. The more specific entry wins, and where two equally specific
// entries disagree, PHI wins: a missed PHI column costs more than a false alarm.
package healthcare
