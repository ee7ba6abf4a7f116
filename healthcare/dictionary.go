package healthcare

import (
	"sort"
	"strings"
)

// Confidence levels. A whole-name dictionary hit is near certain, a hit on part of the
// name (patient_fname) is likely, and an ambiguous word (name, account, serial) is a hint.
const (
	confExact = 0.95
	confToken = 0.8
	confWeak  = 0.5
	// confKeyRef is the ceiling for a value-type word followed by _id (city_id): the column
	// points at a lookup row rather than holding the value.
	confKeyRef = 0.3
	// confYear is the ceiling for a year-only date: Safe Harbor lets the year stay.
	confYear = 0.4
)

// entry is one dictionary word sequence, written with underscores ("last_nm").
type entry struct {
	words []string
	id    Identifier
	exact float64 // confidence when the entry is the whole column name
	token float64 // confidence when it is part of the name; 0: whole name only
	// needsDate: the words name an event, so the column is a date only when the name has
	// a date word (birth_date, admitted_on) or the column has a date/time type.
	needsDate bool
	// textOnly: as text the value may be the identifier itself (patient_id holding an
	// MRN); as a number or uuid it is a surrogate key.
	textOnly bool
}

// dictionary is built once and only read afterwards: longest entries first, so the more
// specific email_address claims the words before address alone can.
var dictionary = buildDictionary()

// personWords name people whose name is held in "<word>_name" columns.
var personWords = []string{
	"patient", "pt", "pat", "member", "subscriber", "insured", "guarantor", "guardian",
	"parent", "mother", "father", "spouse", "contact", "beneficiary", "enrollee", "person",
	"caregiver", "relative", "kin", "child", "provider", "physician", "doctor",
	"practitioner", "nurse", "emergency", "responsible", "party",
}

func buildDictionary() []entry {
	var d []entry
	add := func(id Identifier, exact, token float64, names ...string) {
		for _, n := range names {
			d = append(d, entry{words: strings.Split(n, "_"), id: id, exact: exact, token: token})
		}
	}
	dated := func(id Identifier, conf float64, names ...string) {
		for _, n := range names {
			d = append(d, entry{words: strings.Split(n, "_"), id: id, exact: conf, token: conf, needsDate: true})
		}
	}
	textOnly := func(id Identifier, conf float64, names ...string) {
		for _, n := range names {
			d = append(d, entry{words: strings.Split(n, "_"), id: id, exact: conf, token: conf, textOnly: true})
		}
	}

	// (A) Names. A bare "name" is usually a product, organisation or code name.
	add(Name, confExact, confToken,
		"first_name", "firstname", "fname", "f_name", "given_name", "givenname",
		"last_name", "lastname", "lname", "l_name", "surname", "family_name",
		"middle_name", "middlename", "mname", "middle_initial", "maiden_name", "maidenname",
		"full_name", "fullname", "nickname", "nick_name", "preferred_name", "legal_name",
		"name_suffix", "first_nm", "last_nm", "middle_nm", "mid_nm", "fst_nm", "lst_nm", "full_nm",
		"given_nm", "giv_nm", "family_nm", "fam_nm", "sur_nm", "maiden_nm", "prefix_nm", "suffix_nm")
	// Synthea's FIRST, LAST, MAIDEN: names only as the whole column name (not first_visit).
	add(Name, confToken, 0, "first", "last", "middle", "maiden", "given", "forename", "forenames", "family")
	for _, p := range personWords {
		add(Name, confExact, confToken, p+"_name", p+"_nm")
	}
	add(Name, confWeak, 0, "name")

	// (B) Geography smaller than a State. State and country are deliberately absent.
	add(Geographic, confExact, confToken,
		"address", "addr", "address_line", "address_line_1", "address_line_2", "address_line_3",
		"address_1", "address_2", "addr_1", "addr_2", "street", "street_address", "city", "town",
		"county", "zip", "zipcode", "zip_code", "zip_4", "postal_code", "postalcode", "postcode",
		"post_code", "postal", "precinct", "geocode", "latitude", "longitude", "lat", "lon", "lng",
		"census_tract", "census_block", "po_box", "pobox", "neighborhood", "neighbourhood",
		"borough", "municipality", "mailing_address", "home_address", "birthplace", "birth_place",
		"place_of_birth", "county_cd", "county_code", "bene_county_cd", "zip5", "zip_5", "zip9")
	add(Geographic, confToken, 0, "district")
	add(Geographic, confWeak, confWeak, "fips", "fips_code")

	// (C) Dates directly related to an individual. Record-keeping timestamps are absent.
	add(Date, confExact, confToken,
		"dob", "birthdate", "birth_date", "date_of_birth", "dateofbirth", "birthday", "birth_dt",
		"birth_datetime", "dob_8", "dob_dt", "bene_birth_dt", "bene_death_dt", "clm_admsn_dt",
		"nch_bene_dschrg_dt", "srvc_dt", "dod_hosp", "dod_ssn",
		// MIMIC-style run-together event times.
		"admittime", "dischtime", "deathtime", "edregtime", "edouttime", "intime", "outtime",
		"chartdate", "charttime", "transfertime", "admit_time", "disch_time", "discharge_time",
		"admission_time", "death_time", "dischg_date", "dischg_dt",
		"deathdate", "death_date", "date_of_death", "deceased_date", "death_dt",
		"admission_date", "admit_date", "admission_dt", "admit_dt", "date_of_admission",
		"discharge_date", "discharge_dt", "date_of_discharge",
		"service_date", "date_of_service", "svc_date", "service_dt", "svc_dt",
		"clm_from_dt", "clm_thru_dt")
	add(Date, confExact, 0, "dod", "dos") // too short to trust inside a longer name
	dated(Date, confToken, "birth", "death", "deceased", "admission", "admit", "admitted",
		"discharge", "discharged", "service", "svc")
	// Other dates of clinical events for one person: identifying, but less certain.
	dated(Date, confWeak, "visit", "encounter", "appointment", "appt", "scheduled", "procedure",
		"surgery", "operation", "onset", "diagnosis", "diag", "dx", "condition", "treatment",
		"vaccination", "immunization", "prescription", "prescribed", "rx", "lab", "collection",
		"specimen", "exposure", "injury", "accident")
	add(Date, confWeak, confWeak, "age") // ages over 89 are identifiers

	// (D) and (E) Telephone and fax numbers.
	add(Phone, confExact, confToken,
		"phone", "phone_number", "phone_no", "phone_num", "phonenumber", "telephone",
		"telephone_number", "home_phone", "work_phone", "mobile_phone", "mobile_number",
		"mobile_no", "cell_phone", "cellphone", "cell_number", "cell_no", "tel_no", "tel_number",
		"tel_num", "contact_number", "contact_phone", "msisdn", "home_ph", "work_ph", "cell_ph",
		"mobile_ph", "day_ph", "eve_ph", "ph_no", "ph_num", "ph_number", "phone_home",
		"phone_work", "phone_cell", "phone_biz", "phone_contact")
	add(Phone, confExact, confWeak, "mobile", "tel")
	add(Phone, confToken, 0, "telecom") // FHIR ContactPoint: phone numbers and e-mail addresses
	add(Phone, confWeak, 0, "cell")
	add(Fax, confExact, confToken, "fax", "fax_number", "fax_no", "fax_num", "faxnumber",
		"facsimile", "fax_phone")

	// (F) Email. "mail" alone is left out: it also matches mailing_flag and mail_stop.
	add(Email, confExact, confToken, "email", "e_mail", "email_address", "emailaddress",
		"email_addr", "e_addr", "e_address", "eaddr", "email_id")

	// (G) SSN.
	add(SSN, confExact, confToken, "ssn", "social_security", "social_security_number",
		"social_security_no", "social_security_num", "socialsecuritynumber", "soc_sec",
		"soc_sec_no", "soc_sec_num", "ss_no", "ss_num", "ss_number", "itin")
	add(SSN, confWeak, 0, "ss")

	// (H) Medical record numbers.
	add(MRN, confExact, confToken, "mrn", "medical_record", "medical_record_number",
		"medical_record_no", "medical_record_num", "medical_record_id", "med_rec", "med_rec_no",
		"med_rec_num", "med_rec_number", "medrec", "chart_no", "chart_number", "chart_num",
		"chart_id", "pubpid", "patient_number", "patient_no", "patient_num", "pat_no", "pat_num",
		"mr_no", "mr_number", "mr_num", "person_source_value", "ehr_id", "emr_id",
		"patient_identifier", "pt_no", "pt_num", "pt_nbr", "pat_nbr", "patient_nbr", "mrn_no",
		"mrn_nbr", "med_rec_nbr", "chart_nbr", "mr_nbr", "hosp_no", "hospital_number", "unit_no",
		"emr_number", "ehr_number")
	textOnly(MRN, confWeak, "patient_id", "patientid", "pat_id", "pt_id")

	// (I) Health plan beneficiary numbers.
	add(HealthPlanID, confExact, confToken, "member_id", "memberid", "member_number",
		"member_no", "member_num", "subscriber_id", "subscriber_number", "subscriber_no",
		"policy_number", "policy_no", "policy_num", "policy_id", "insurance_id",
		"insurance_number", "insurance_no", "insurance_member_id", "beneficiary_id",
		"beneficiary_number", "bene_id", "mbi", "hicn", "hic_number", "medicare_id",
		"medicare_number", "medicare_no", "medicaid_id", "medicaid_number", "medicaid_no",
		"cardholder_id", "desynpuf_id", "health_insurance_number", "insured_id", "enrollee_id",
		"member_nbr", "subscriber_nbr", "policy_nbr", "bene_no", "bene_nbr", "hic_no", "hicno",
		"medicare_beneficiary_id", "medicare_beneficiary_identifier", "memberid_no", "group_member_id")

	// (J) Account numbers.
	add(AccountNumber, confExact, confToken, "account_number", "account_no", "account_num",
		"acct_no", "acct_num", "acct_number", "accountnumber", "patient_account",
		"patient_account_number", "bank_account", "bank_account_number", "iban", "credit_card",
		"credit_card_number", "creditcard", "card_number", "cc_number", "cc_num",
		"guarantor_account")
	add(AccountNumber, confWeak, confWeak, "account", "acct")

	// (K) Certificate and license numbers.
	add(CertificateLicense, confExact, confToken, "driver_license", "driver_licence",
		"driver_license_number", "driver_license_no", "dl_number", "dl_no", "dl_num",
		"license_number", "license_no", "license_num", "licence_number", "licence_no",
		"passport", "passport_number", "passport_no", "certificate_number", "certificate_no",
		"cert_number", "cert_no", "national_id", "state_id_number", "birth_certificate",
		"drivers", "drivers_license", "drivers_licence", "dl_nbr", "license_nbr", "passport_nbr")
	add(CertificateLicense, confExact, confWeak, "license", "licence")

	// (L) Vehicles; (M) devices.
	add(Vehicle, confExact, confToken, "vin", "vin_number", "vehicle_id",
		"vehicle_identification_number", "vehicle_serial", "vehicle_serial_number",
		"license_plate", "licence_plate", "licenseplate", "plate_number", "plate_no")
	add(Device, confExact, confToken, "udi", "device_serial", "device_serial_number",
		"device_id", "device_identifier", "device_udi", "imei", "mac_address", "mac_addr",
		"macaddr", "implant_serial")
	add(Device, confWeak, confWeak, "serial", "serial_number", "serial_no", "serial_num")

	// (N) URLs; (O) IP addresses.
	add(URL, confExact, confToken, "url", "uri", "website", "web_site", "homepage",
		"home_page", "web_address", "web_url")
	add(IPAddress, confExact, confToken, "ip", "ip_address", "ip_addr", "ipaddress", "ipaddr",
		"client_ip", "client_addr", "remote_ip", "remote_addr", "source_ip", "src_ip", "user_ip",
		"login_ip", "last_ip", "ipv", "ipv_4", "ipv_6", "ipv_4_address", "ipv_6_address")

	// (P) Biometrics; (Q) photographs.
	add(Biometric, confExact, confToken, "fingerprint", "finger_print", "voice_print",
		"voiceprint", "retina_scan", "retinal_scan", "iris_scan", "palm_print", "palmprint",
		"biometric", "biometric_template", "face_template", "facial_geometry",
		"facial_recognition")
	add(Photo, confExact, confToken, "photo", "photograph", "face_image", "facial_image",
		"face_photo", "headshot", "portrait", "selfie")
	add(Photo, confWeak, confWeak, "picture", "avatar", "profile_picture", "profile_image",
		"profile_pic", "face")

	// (R) Other unique identifying numbers: weak, each is often something else.
	add(OtherUniqueID, confWeak, confWeak, "username", "user_name", "login", "login_name",
		"claim_number", "claim_no", "claim_num", "tax_id", "external_id", "icn")

	// Health information: not identifiers, but PHI once linked to one.
	add(HealthInfo, confExact, confToken, "diagnosis", "diagnosis_code", "diag", "diag_code",
		"dx", "dx_code", "icd", "icd_code", "icd_9", "icd_10", "icd_10_code", "cpt", "cpt_code",
		"hcpcs", "hcpcs_code", "procedure", "procedure_code", "proc_code", "px_code",
		"medication", "medication_name", "drug", "drug_code", "drug_name", "ndc", "ndc_code", "rx",
		"prescription", "clinical_note", "progress_note", "soap_note", "nursing_note",
		"lab_result", "lab_value", "lab_test", "test_result", "result_value", "loinc",
		"loinc_code", "snomed", "snomed_code", "rxnorm", "condition", "allergy", "allergen",
		"symptom", "vital_sign", "vital", "blood_pressure", "bmi", "chief_complaint",
		"reason_for_visit", "visit_reason", "treatment", "immunization", "vaccine", "drg",
		"drg_code", "problem_list", "observation_value", "pathology", "radiology",
		"imaging_result", "discharge_disposition", "admitting_diagnosis", "dosage", "dose",
		"hiv_status", "pregnancy_status", "smoking_status")
	add(HealthInfo, confWeak, confWeak, "note", "result", "complaint", "problem",
		"observation", "measurement", "revenue_code", "rev_code", "lab")
	add(HealthInfo, confWeak, 0, "reason") // appointments.reason, but not claims.pend_reason

	sort.SliceStable(d, func(i, j int) bool { return len(d[i].words) > len(d[j].words) })
	return d
}

// Word lists used around the dictionary. All read-only.
var (
	// dateWords make an event word a date (birth_date, admitted_on, discharged_at).
	dateWords = setOf("date", "dt", "dte", "datetime", "time", "timestamp", "ts", "day",
		"month", "year", "yr", "on", "at", "when")
	// metaWords after a match mean the column describes the value rather than holding it
	// (email_verified, phone_type, ip_allowlist).
	metaWords = setOf("type", "kind", "status", "flag", "flags", "verified", "verification",
		"sent", "count", "cnt", "allowlist", "whitelist", "blocklist", "blacklist", "denylist",
		"format", "pattern", "regex", "consent", "opt", "optin", "optout", "pref", "preference",
		"preferences", "enabled", "disabled", "valid", "validated", "confirmed", "bounced",
		"unsubscribed", "required", "visibility", "visible", "domain", "label", "category",
		"range", "ranges", "mask", "netmask", "length", "len", "size", "version", "title")
	// flagPrefixes start boolean-style names (is_deceased, has_email).
	flagPrefixes = setOf("is", "has", "was", "can", "should", "allow", "use", "uses")
	// secretWords: credentials are sensitive, but they are not PHI.
	secretWords = setOf("password", "passwd", "pwd", "pass", "passphrase", "secret", "salt",
		"token", "otp", "totp", "apikey")
	// providerWords: identifiers of providers, not of patients (npi, dea_number).
	providerWords = setOf("npi", "dea", "upin", "ptan", "nppes", "taxonomy")
	// countWords in a numeric column mean a count or measure, never an identifier.
	countWords = setOf("count", "cnt", "total", "qty", "quantity", "amount", "amt", "units",
		"duration", "days", "hours", "minutes", "seconds", "mins", "secs", "score", "rank",
		"seq", "sequence", "version", "attempts", "retries", "size", "length", "index", "idx",
		"pct", "percent", "ratio", "rate", "balance", "price", "cost", "fee")
	// keyWords end a column that refers to another row (city_id, patient_fk).
	keyWords = setOf("id", "key", "fk", "sk", "uuid", "guid", "ref")
	// yearWords: a year alone may stay under Safe Harbor.
	yearWords = setOf("year", "yr")
	// finerDateWords rule out a year-only column.
	finerDateWords = setOf("month", "day", "date", "dt", "dob", "datetime", "timestamp")
)

// thingIDs hold a value (a name, a city, an address), so X_id is a reference to it.
// The rest are numbers themselves, so X_id can be the number.
func isThingID(id Identifier) bool {
	switch id {
	case Name, Geographic, Date, Phone, Fax, Email, URL, IPAddress, Biometric, Photo:
		return true
	}
	return false
}
