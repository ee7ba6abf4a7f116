-- PHI discovery corpus: tables shaped like public healthcare data models (Synthea CSV
-- exports, CMS DE-SynPUF, OMOP CDM 5.4, an OpenEMR-like EHR with abbreviated names) and
-- non-clinical controls, filled with synthetic values. Every value is generated here;
-- the expected verdict of each column is in corpus_test.go.

CREATE SCHEMA synthea;
CREATE TABLE synthea.patients (
  id uuid PRIMARY KEY, birthdate date, deathdate date, ssn text, drivers text, passport text,
  prefix text, first text, middle text, last text, suffix text, maiden text, marital text,
  race text, ethnicity text, gender text, birthplace text, address text, city text,
  state text, county text, fips text, zip text, lat numeric, lon numeric,
  healthcare_expenses numeric, healthcare_coverage numeric, income integer);
INSERT INTO synthea.patients
SELECT md5(i::text)::uuid, date '1940-01-01' + (i * 37) % 25000, CASE WHEN i % 9 = 0 THEN date '2020-01-01' + i % 900 END,
       format('999-%s-%s', lpad((10 + i % 89)::text, 2, '0'), lpad((1000 + i)::text, 4, '0')),
       format('S999%s', lpad(i::text, 5, '0')), format('X%sX', lpad(i::text, 8, '0')),
       (ARRAY['Mr.', 'Mrs.', 'Ms.'])[1 + i % 3],
       (ARRAY['Jose', 'Maria', 'Wei', 'Aisha', 'Liam', 'Olga'])[1 + i % 6] || (i % 900)::text,
       (ARRAY['Ann', 'Lee', 'Kai'])[1 + i % 3] || (i % 700)::text,
       (ARRAY['Garcia', 'Nguyen', 'Smith', 'Okafor', 'Kowalski'])[1 + i % 5] || (i % 800)::text,
       CASE WHEN i % 7 = 0 THEN 'Jr.' END,
       CASE WHEN i % 2 = 0 THEN (ARRAY['Baker', 'Cole'])[1 + i % 2] || (i % 300)::text END,
       (ARRAY['M', 'S', 'D'])[1 + i % 3], (ARRAY['white', 'black', 'asian', 'native'])[1 + i % 4],
       (ARRAY['hispanic', 'nonhispanic'])[1 + i % 2], (ARRAY['M', 'F'])[1 + i % 2],
       (ARRAY['Boston', 'Worcester', 'Springfield'])[1 + i % 3] || ' Massachusetts US',
       format('%s %s St Unit %s', 10 + i % 900, (ARRAY['Oak', 'Elm', 'Main'])[1 + i % 3], i % 40),
       (ARRAY['Boston', 'Quincy', 'Lowell', 'Salem'])[1 + i % 4], 'Massachusetts',
       (ARRAY['Suffolk County', 'Norfolk County'])[1 + i % 2], lpad((25000 + i % 30)::text, 5, '0'),
       lpad((2100 + i % 60)::text, 5, '0'), 42 + (i % 100) / 1000.0, -71 - (i % 100) / 1000.0,
       1000 + i * 3.5, 200 + i, 20000 + i * 10
FROM generate_series(1, 600) i;

CREATE SCHEMA synpuf;
CREATE TABLE synpuf.beneficiary_summary (
  desynpuf_id text PRIMARY KEY, bene_birth_dt text, bene_death_dt text, bene_sex_ident_cd text,
  bene_race_cd text, bene_esrd_ind text, sp_state_code text, bene_county_cd text,
  bene_hi_cvrage_tot_mons integer, plan_cvrg_mos_num integer, sp_alzhdmta text, sp_chf text,
  medreimb_ip numeric, benres_ip numeric);
INSERT INTO synpuf.beneficiary_summary
SELECT upper(substr(md5(i::text), 1, 16)), to_char(date '1920-01-01' + i * 41 % 20000, 'YYYYMMDD'),
       CASE WHEN i % 11 = 0 THEN to_char(date '2009-01-01' + i % 700, 'YYYYMMDD') END,
       (1 + i % 2)::text, (1 + i % 5)::text, (ARRAY['0', 'Y'])[1 + i % 2], lpad((1 + i % 54)::text, 2, '0'),
       lpad((i % 400)::text, 3, '0'), 12, 12, (1 + i % 2)::text, (1 + i % 2)::text, (i % 50) * 100, (i % 20) * 10
FROM generate_series(1, 500) i;
CREATE TABLE synpuf.carrier_claims (
  desynpuf_id text REFERENCES synpuf.beneficiary_summary, clm_id text PRIMARY KEY,
  clm_from_dt text, clm_thru_dt text, icd9_dgns_cd_1 text, prf_physn_npi_1 text, tax_num_1 text,
  hcpcs_cd_1 text, line_nch_pmt_amt_1 numeric);
INSERT INTO synpuf.carrier_claims
SELECT upper(substr(md5((i % 500 + 1)::text), 1, 16)), (887000000000000 + i)::text,
       to_char(date '2009-01-01' + i % 700, 'YYYYMMDD'), to_char(date '2009-01-05' + i % 700, 'YYYYMMDD'),
       (ARRAY['4019', '25000', 'V5869', '2724'])[1 + i % 4],
       (ARRAY['1234567893', '1003000126', '1487776548'])[1 + i % 3], lpad((i * 7919 % 999999999)::text, 9, '0'),
       (ARRAY['99213', '99214', '80053'])[1 + i % 3], (i % 90) * 10
FROM generate_series(1, 1500) i;

CREATE SCHEMA omop;
CREATE TABLE omop.location (
  location_id integer PRIMARY KEY, address_1 varchar(50), address_2 varchar(50), city varchar(50),
  state varchar(2), zip varchar(9), county varchar(20), location_source_value varchar(50),
  country_concept_id integer, latitude numeric, longitude numeric);
INSERT INTO omop.location
SELECT i, format('%s Pine Rd', 100 + i), CASE WHEN i % 3 = 0 THEN 'Apt ' || i END,
       (ARRAY['Denver', 'Aurora', 'Boulder'])[1 + i % 3], 'CO', lpad((80000 + i % 300)::text, 5, '0'),
       (ARRAY['Denver', 'Arapahoe'])[1 + i % 2], 'LOC' || i, 42046186, 39 + i / 10000.0, -104 - i / 10000.0
FROM generate_series(1, 300) i;
CREATE TABLE omop.person (
  person_id integer PRIMARY KEY, gender_concept_id integer, year_of_birth integer,
  month_of_birth integer, day_of_birth integer, birth_datetime timestamp, race_concept_id integer,
  ethnicity_concept_id integer, location_id integer REFERENCES omop.location,
  provider_id integer, care_site_id integer, person_source_value varchar(50),
  gender_source_value varchar(50), race_source_value varchar(50));
INSERT INTO omop.person
SELECT i, 8507 + i % 2, 1930 + i % 70, 1 + i % 12, 1 + i % 28,
       make_timestamp(1930 + i % 70, 1 + i % 12, 1 + i % 28, 0, 0, 0), 8527, 38003564, 1 + i % 300,
       1 + i % 40, 1 + i % 10, 'MRN' || lpad((700000 + i)::text, 8, '0'), (ARRAY['M', 'F'])[1 + i % 2], 'White'
FROM generate_series(1, 800) i;
CREATE TABLE omop.note (
  note_id integer PRIMARY KEY, person_id integer REFERENCES omop.person, note_date date,
  note_datetime timestamp, note_type_concept_id integer, note_title varchar(250), note_text text,
  encoding_concept_id integer, language_concept_id integer, provider_id integer);
INSERT INTO omop.note
SELECT i, 1 + i % 800, date '2018-01-01' + i % 1500, timestamp '2018-01-01' + (i % 1500) * interval '1 day',
       44814645, (ARRAY['Progress note', 'Discharge summary'])[1 + i % 2],
       CASE WHEN i % 4 = 0 THEN format('Patient called from (303) 555-%s about refill; MRN %s verified.',
                                       lpad((i % 10000)::text, 4, '0'), lpad((700000 + i % 800)::text, 8, '0'))
            ELSE 'Stable on current regimen, follow up in three months.' END,
       32678, 4180186, 1 + i % 40
FROM generate_series(1, 700) i;
CREATE TABLE omop.concept (
  concept_id integer PRIMARY KEY, concept_name varchar(255), domain_id varchar(20),
  vocabulary_id varchar(20), concept_code varchar(50), valid_start_date date);
INSERT INTO omop.concept
SELECT i, 'Concept ' || i, (ARRAY['Condition', 'Drug'])[1 + i % 2], 'SNOMED', (100000 + i)::text, date '2000-01-01'
FROM generate_series(1, 400) i;

-- An EHR with abbreviated and opaque names: the values have to speak.
CREATE SCHEMA ehr;
CREATE TABLE ehr.pt (
  pt_no text PRIMARY KEY, given_nm text, fam_nm text, dob8 text, soc_sec text, e_addr text,
  home_ph text, postal text, x1 text, contact text, ident text, c7 text, remarks text,
  status_cd text, created_on timestamptz);
INSERT INTO ehr.pt
SELECT 'A' || lpad((30000 + i)::text, 7, '0'), (ARRAY['Ngozi', 'Hiro', 'Elena'])[1 + i % 3] || i,
       (ARRAY['Adeyemi', 'Sato', 'Rossi'])[1 + i % 3] || i, to_char(date '1950-01-01' + i * 13 % 20000, 'YYYYMMDD'),
       format('%s-%s-%s', 100 + (i * 7) % 500, lpad((1 + i % 98)::text, 2, '0'), lpad((1 + i % 9998)::text, 4, '0')),
       format('pt%s@example.org', i), format('(%s) 555-%s', 201 + i % 700, lpad((i % 10000)::text, 4, '0')),
       lpad((10000 + i % 80000)::text, 5, '0'),
       format('%s-%s-%s', 100 + (i * 11) % 500, lpad((1 + i % 97)::text, 2, '0'), lpad((2 + i % 9990)::text, 4, '0')),
       format('family%s@example.net', i),
       format('%s%s%s%s%s%s%s%s%s%s%s', 1 + i % 9, substr('ACDEFGHJKMNPQRTUVWXY', 1 + i % 20, 1), i % 10,
              (i * 3) % 10, substr('ACDEFGHJKMNPQRTUVWXY', 1 + (i * 7) % 20, 1), (i * 5) % 10, (i * 9) % 10,
              substr('ACDEFGHJKMNPQRTUVWXY', 1 + (i * 3) % 20, 1), substr('ACDEFGHJKMNPQRTUVWXY', 1 + (i * 11) % 20, 1),
              (i * 7) % 10, (i * 13) % 10),
       format('%s.555.%s', 201 + i % 700, lpad((i % 10000)::text, 4, '0')),
       CASE WHEN i % 5 = 0 THEN format('Spoke with daughter, her SSN %s-%s-%s on file, email kin%s@example.com',
                                       100 + i % 500, lpad((1 + i % 98)::text, 2, '0'), lpad((1 + i % 9998)::text, 4, '0'), i)
            ELSE 'No changes to demographics since last visit.' END,
       (ARRAY['A', 'I'])[1 + i % 2], now() - i * interval '1 hour'
FROM generate_series(1, 700) i;
CREATE TABLE ehr.visit (
  visit_no bigint PRIMARY KEY, pt_ref text REFERENCES ehr.pt, vdate date, rsn text, amt numeric);
INSERT INTO ehr.visit
SELECT i, 'A' || lpad((30000 + 1 + i % 700)::text, 7, '0'), date '2022-01-01' + i % 900,
       (ARRAY['cough', 'follow-up', 'rash'])[1 + i % 3], (i % 40) * 25
FROM generate_series(1, 2000) i;
CREATE TABLE ehr.icd10_codes (code text PRIMARY KEY, descr text, chapter text);
INSERT INTO ehr.icd10_codes SELECT 'A' || lpad(i::text, 3, '0'), 'Condition ' || i, 'I' FROM generate_series(1, 300) i;

CREATE SCHEMA billing;
CREATE TABLE billing.prov (
  prov_id integer PRIMARY KEY, npi text, prov_nm text, phone text, specialty text);
INSERT INTO billing.prov
SELECT i, (ARRAY['1234567893', '1003000126', '1487776548', '1417990870'])[1 + i % 4],
       'Dr. ' || (ARRAY['Okoro', 'Lind', 'Patel'])[1 + i % 3] || i,
       format('(%s) 555-%s', 300 + i % 500, lpad(i::text, 4, '0')), (ARRAY['FM', 'IM'])[1 + i % 2]
FROM generate_series(1, 200) i;

-- Controls: a web shop's tables, shaped to tempt the value validators.
CREATE SCHEMA shop;
CREATE TABLE shop.orders (
  order_id bigint PRIMARY KEY, sku text, qty integer, total numeric, order_date text,
  status text, coupon text, tracking text);
INSERT INTO shop.orders
SELECT i, lpad((10000 + i % 500)::text, 5, '0'), 1 + i % 4, (i % 300) + 0.99,
       to_char(date '2024-01-01' + i % 300, 'YYYYMMDD'), (ARRAY['paid', 'shipped'])[1 + i % 2],
       CASE WHEN i % 10 = 0 THEN 'SAVE10' END, '1Z' || upper(substr(md5(i::text), 1, 16))
FROM generate_series(1, 1000) i;

-- MIMIC-III-shaped critical care tables: run-together event times, integer subject keys,
-- and notes in a column called text.
CREATE SCHEMA mimic;
CREATE TABLE mimic.patients (
  row_id int, subject_id int PRIMARY KEY, gender varchar(5), dob timestamp, dod timestamp,
  dod_hosp timestamp, dod_ssn timestamp, expire_flag int);
INSERT INTO mimic.patients
SELECT i, 10000 + i, (ARRAY['M', 'F'])[1 + i % 2], timestamp '2100-01-01' - (i * 97 % 30000) * interval '1 day',
       CASE WHEN i % 5 = 0 THEN timestamp '2150-01-01' + i * interval '1 day' END,
       CASE WHEN i % 10 = 0 THEN timestamp '2150-01-01' + i * interval '1 day' END,
       CASE WHEN i % 7 = 0 THEN timestamp '2150-01-01' + i * interval '1 day' END, (i % 5 = 0)::int
FROM generate_series(1, 400) i;
CREATE TABLE mimic.admissions (
  row_id int, subject_id int REFERENCES mimic.patients, hadm_id int PRIMARY KEY, admittime timestamp,
  dischtime timestamp, deathtime timestamp, admission_type varchar(50), admission_location varchar(50),
  discharge_location varchar(50), insurance varchar(255), language varchar(10), religion varchar(50),
  marital_status varchar(50), ethnicity varchar(200), edregtime timestamp, edouttime timestamp,
  diagnosis varchar(255), hospital_expire_flag smallint);
INSERT INTO mimic.admissions
SELECT i, 10000 + 1 + i % 400, 100000 + i, timestamp '2150-01-01' + i * interval '7 hours',
       timestamp '2150-01-05' + i * interval '7 hours', NULL, (ARRAY['EMERGENCY', 'ELECTIVE', 'URGENT'])[1 + i % 3],
       (ARRAY['EMERGENCY ROOM ADMIT', 'PHYS REFERRAL/NORMAL DELI'])[1 + i % 2], (ARRAY['HOME', 'SNF', 'REHAB'])[1 + i % 3],
       (ARRAY['Medicare', 'Private', 'Medicaid'])[1 + i % 3], 'ENGL', (ARRAY['CATHOLIC', 'NOT SPECIFIED'])[1 + i % 2],
       (ARRAY['MARRIED', 'SINGLE'])[1 + i % 2], (ARRAY['WHITE', 'BLACK/AFRICAN AMERICAN'])[1 + i % 2],
       timestamp '2150-01-01' + i * interval '7 hours' - interval '3 hours', timestamp '2150-01-01' + i * interval '7 hours',
       (ARRAY['PNEUMONIA', 'SEPSIS', 'CONGESTIVE HEART FAILURE'])[1 + i % 3], 0
FROM generate_series(1, 900) i;
CREATE TABLE mimic.noteevents (
  row_id int PRIMARY KEY, subject_id int, hadm_id int, chartdate timestamp, charttime timestamp,
  storetime timestamp, category varchar(50), description varchar(255), cgid int, iserror char(1), text text);
INSERT INTO mimic.noteevents
SELECT i, 10000 + 1 + i % 400, 100000 + 1 + i % 900, timestamp '2150-01-01' + i * interval '5 hours',
       timestamp '2150-01-01' + i * interval '5 hours', timestamp '2150-01-01' + i * interval '6 hours',
       (ARRAY['Nursing', 'Radiology', 'Discharge summary'])[1 + i % 3], (ARRAY['Report', 'CHEST (PORTABLE AP)'])[1 + i % 2],
       14000 + i % 50, NULL,
       format('Patient is a %s year old admitted with %s. Hemodynamically stable overnight, tolerating diet, plan to continue current antibiotics and reassess in the morning (%s).',
              40 + i % 45, (ARRAY['pneumonia', 'sepsis', 'chest pain'])[1 + i % 3], i)
FROM generate_series(1, 800) i;

-- An OpenEMR-shaped demographics table (the MySQL original, its names kept).
CREATE SCHEMA emr;
CREATE TABLE emr.patient_data (
  id bigint PRIMARY KEY, pid bigint, pubpid text, fname text, lname text, mname text, "DOB" date,
  ss text, street text, postal_code text, city text, state text, phone_home text, phone_cell text,
  email text, drivers_license text, sex text, race text, genericname1 text, genericval1 text, "providerID" int);
INSERT INTO emr.patient_data
SELECT i, i, 'PUB' || lpad(i::text, 6, '0'), 'Ruth' || i, 'Baker' || i, (ARRAY['A', 'J', NULL])[1 + i % 3],
       date '1945-01-01' + i * 17 % 25000,
       format('%s-%s-%s', 101 + i % 600, lpad((1 + i % 98)::text, 2, '0'), lpad((5 + i % 9990)::text, 4, '0')),
       format('%s Birch Ln', 10 + i), lpad((30000 + i % 900)::text, 5, '0'), 'Macon', 'GA',
       format('478-555-%s', lpad((i % 10000)::text, 4, '0')), format('(912) 555-%s', lpad(((i * 3) % 10000)::text, 4, '0')),
       format('ruth%s@example.com', i), 'D' || lpad((i * 7)::text, 8, '0'), (ARRAY['Female', 'Male'])[1 + i % 2],
       (ARRAY['white', 'black'])[1 + i % 2], NULL, NULL, 1 + i % 9
FROM generate_series(1, 500) i;
