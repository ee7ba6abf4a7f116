package synth

import "strings"

// Word lists for synthetic people and places. Names are common given names and surnames
// combined at random, so any resemblance to a real person is coincidence; SSNs use the
// 9xx area the Social Security Administration never issues, phone numbers the 555-01xx
// range reserved for fiction, and e-mail addresses the reserved example.* domains.

var femaleNames = strings.Fields(`Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen
Lisa Nancy Betty Sandra Margaret Ashley Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah
Stephanie Dorothy Rebecca Sharon Laura Cynthia Amy Kathleen Angela Shirley Brenda Emma Anna Pamela
Nicole Samantha Katherine Christine Helen Debra Rachel Carolyn Janet Maria Catherine Heather Diane
Olivia Julie Joyce Victoria Ruth Virginia Lauren Kelly Christina Joan Evelyn Judith Andrea Hannah
Megan Cheryl Jacqueline Martha Madison Teresa Gloria Sara Janice Ann Kathryn Abigail Sophia Frances
Jean Alice Judy Isabella Julia Grace Amber Denise Danielle Marilyn Beverly Charlotte Natalie Theresa
Diana Brittany Doris Kayla Alexis Lori Marie Ava Mia Harper Aaliyah Camila Lucia Ximena Priya Mei
Fatima Aisha Yesenia Guadalupe Rosa Carmen Leticia Thi Ngoc Hana Yuki Amara Zainab`)

var maleNames = strings.Fields(`James Robert John Michael David William Richard Joseph Thomas Christopher
Charles Daniel Matthew Anthony Mark Donald Steven Andrew Paul Joshua Kenneth Kevin Brian George
Timothy Ronald Jason Edward Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin
Scott Brandon Benjamin Samuel Gregory Alexander Patrick Frank Raymond Jack Dennis Jerry Tyler Aaron
Jose Adam Nathan Henry Zachary Douglas Peter Kyle Noah Ethan Jeremy Walter Christian Keith Roger
Terry Austin Sean Gerald Carl Harold Dylan Arthur Lawrence Jordan Jesse Bryan Billy Bruce Gabriel
Joe Logan Alan Juan Albert Willie Elijah Wayne Randy Vincent Mason Roy Ralph Bobby Russell Bradley
Philip Eugene Liam Lucas Mateo Santiago Diego Luis Carlos Miguel Ahmed Omar Wei Jun Hiroshi Raj
Arjun Kwame Tariq Dmitri Ivan Minh Duc Kofi`)

var lastNames = strings.Fields(`Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White
Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans
Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez
Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks
Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long
Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes
Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin
Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford
Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen
Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw
Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox
Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner
Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley
Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado
Berry Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval
Okafor Nakamura Kowalski Novak Haddad Mensah Oyelaran Szabo Lindqvist Abubakar Yamamoto Dubois`)

var streetNames = strings.Fields(`Main Oak Pine Maple Cedar Elm Washington Lake Hill Park Walnut Sunset
Jefferson Lincoln Madison Franklin Highland Ridge Church Spring Center River Meadow Forest Willow
Chestnut Jackson Adams Valley Mill Prospect Union Broad Cherry Dogwood Magnolia Birch Hickory
Poplar Laurel Sycamore Aspen Juniper Orchard Harbor Bay Summit Grove`)

var streetKinds = strings.Fields(`St Ave Rd Blvd Ln Dr Ct Way Pl Ter`)

// cities: name, state and the first three digits of its postal codes.
var cities = []struct{ name, state, zip3 string }{
	{"Springfield", "IL", "627"}, {"Riverside", "CA", "925"}, {"Franklin", "TN", "370"},
	{"Greenville", "SC", "296"}, {"Fairview", "OR", "970"}, {"Madison", "WI", "537"},
	{"Clinton", "IA", "527"}, {"Georgetown", "TX", "786"}, {"Salem", "MA", "019"},
	{"Bristol", "CT", "060"}, {"Dayton", "OH", "454"}, {"Columbia", "MO", "652"},
	{"Auburn", "AL", "368"}, {"Lexington", "KY", "405"}, {"Arlington", "VA", "222"},
	{"Jackson", "MS", "392"}, {"Aurora", "CO", "800"}, {"Rochester", "NY", "146"},
	{"Lancaster", "PA", "176"}, {"Burlington", "VT", "054"}, {"Portland", "ME", "041"},
	{"Kingston", "NY", "124"}, {"Oxford", "MS", "386"}, {"Milton", "FL", "325"},
	{"Newport", "RI", "028"}, {"Marion", "IN", "469"}, {"Hudson", "WI", "540"},
	{"Ashland", "OR", "975"}, {"Dover", "DE", "199"}, {"Troy", "MI", "480"},
	{"Mesa", "AZ", "852"}, {"Boise", "ID", "837"}, {"Reno", "NV", "895"},
	{"Tacoma", "WA", "984"}, {"Durham", "NC", "277"}, {"Savannah", "GA", "314"},
	{"Omaha", "NE", "681"}, {"Wichita", "KS", "672"}, {"Tulsa", "OK", "741"},
	{"Albuquerque", "NM", "871"},
}

// specialties: name, NUCC taxonomy code, and how many patients a provider of it sees
// relative to a family physician (drives the skew of provider volumes).
var specialties = []struct {
	name, taxonomy string
	volume         float64
}{
	{"Family Medicine", "207Q00000X", 1.0},
	{"Internal Medicine", "207R00000X", 1.0},
	{"Pediatrics", "208000000X", 0.9},
	{"Obstetrics & Gynecology", "207V00000X", 0.6},
	{"Cardiology", "207RC0000X", 0.5},
	{"Orthopaedic Surgery", "207X00000X", 0.4},
	{"Dermatology", "207N00000X", 0.5},
	{"Psychiatry", "2084P0800X", 0.4},
	{"Clinical Psychology", "103TC0700X", 0.3},
	{"Physical Therapy", "225100000X", 0.7},
	{"Radiology", "2085R0202X", 0.8},
	{"Clinical Laboratory", "291U00000X", 1.6},
	{"Emergency Medicine", "207P00000X", 0.8},
	{"Anesthesiology", "207L00000X", 0.3},
	{"Gastroenterology", "207RG0100X", 0.3},
	{"Endocrinology", "207RE0101X", 0.3},
	{"Neurology", "2084N0400X", 0.25},
	{"Oncology", "207RX0202X", 0.25},
	{"Ophthalmology", "207W00000X", 0.35},
	{"Urgent Care", "261QU0200X", 1.2},
	{"Nurse Practitioner", "363L00000X", 0.8},
	{"Physician Assistant", "363A00000X", 0.7},
	{"Dentistry", "122300000X", 0.5},
	{"Hospital", "282N00000X", 1.4},
}

// payerSeeds: name, type and state (blank for national payers).
var payerSeeds = []struct{ name, kind, state string }{
	{"Medicare Part B", "medicare", ""}, {"Medicare Advantage North", "medicare", ""},
	{"State Medicaid Program", "medicaid", "IL"}, {"Medicaid Managed Care South", "medicaid", "TX"},
	{"Medicaid Managed Care West", "medicaid", "CA"}, {"TRICARE", "tricare", ""},
	{"Blue Meridian Health", "commercial", ""}, {"Crescent Health Plans", "commercial", ""},
	{"Summit Mutual Insurance", "commercial", ""}, {"Harborview Health", "commercial", "WA"},
	{"Prairie Health Alliance", "commercial", "NE"}, {"Keystone Care Network", "commercial", "PA"},
	{"Lakeshore Health Partners", "commercial", "MI"}, {"Evergreen Benefit Trust", "commercial", "OR"},
	{"Sunbelt Health Cooperative", "commercial", "FL"}, {"Granite State Health", "commercial", "NH"},
	{"Pioneer Life & Health", "commercial", ""}, {"Atlas Employer Benefits", "commercial", ""},
	{"Union Health Fund Local 12", "commercial", "NY"}, {"Cascade Regional Health", "commercial", "WA"},
	{"Red River Health Plan", "commercial", "TX"}, {"Liberty Workers Comp", "workers_comp", ""},
	{"Ironworks Comp Mutual", "workers_comp", "OH"}, {"Self Pay", "self_pay", ""},
	{"Heartland Health Network", "commercial", "KS"}, {"Bayou Health Partners", "commercial", "LA"},
	{"Desert Sky Health", "commercial", "AZ"}, {"Great Lakes Mutual", "commercial", "OH"},
	{"Magnolia Health Plan", "commercial", "MS"}, {"Rocky Mountain Care", "commercial", "CO"},
}

var planKinds = []string{"HMO", "PPO", "EPO", "POS", "HDHP"}

// icd10Common are frequently billed ICD-10-CM codes, most frequent first; the rest of the
// code table is filled with synthetic codes of the right shape.
var icd10Common = [][2]string{
	{"Z00.00", "General adult medical examination without abnormal findings"},
	{"I10", "Essential (primary) hypertension"},
	{"E11.9", "Type 2 diabetes mellitus without complications"},
	{"E78.5", "Hyperlipidemia, unspecified"},
	{"Z23", "Encounter for immunization"},
	{"J06.9", "Acute upper respiratory infection, unspecified"},
	{"M54.50", "Low back pain, unspecified"},
	{"F41.1", "Generalized anxiety disorder"},
	{"F32.9", "Major depressive disorder, single episode, unspecified"},
	{"Z00.129", "Routine child health examination without abnormal findings"},
	{"E66.9", "Obesity, unspecified"},
	{"R05.9", "Cough, unspecified"},
	{"K21.9", "Gastro-esophageal reflux disease without esophagitis"},
	{"J45.909", "Unspecified asthma, uncomplicated"},
	{"N39.0", "Urinary tract infection, site not specified"},
	{"R10.9", "Unspecified abdominal pain"},
	{"M25.561", "Pain in right knee"},
	{"Z12.31", "Encounter for screening mammogram for malignant neoplasm of breast"},
	{"E03.9", "Hypothyroidism, unspecified"},
	{"G43.909", "Migraine, unspecified, not intractable"},
	{"I25.10", "Atherosclerotic heart disease of native coronary artery"},
	{"J02.9", "Acute pharyngitis, unspecified"},
	{"R51.9", "Headache, unspecified"},
	{"Z34.90", "Encounter for supervision of normal pregnancy, unspecified"},
	{"I48.91", "Unspecified atrial fibrillation"},
	{"N18.3", "Chronic kidney disease, stage 3"},
	{"J44.9", "Chronic obstructive pulmonary disease, unspecified"},
	{"M17.11", "Unilateral primary osteoarthritis, right knee"},
	{"L70.0", "Acne vulgaris"},
	{"H52.4", "Presbyopia"},
	{"K02.9", "Dental caries, unspecified"},
	{"S93.401A", "Sprain of unspecified ligament of right ankle, initial encounter"},
	{"F90.9", "Attention-deficit hyperactivity disorder, unspecified type"},
	{"R53.83", "Other fatigue"},
	{"Z79.4", "Long term (current) use of insulin"},
	{"B34.9", "Viral infection, unspecified"},
	{"U07.1", "COVID-19"},
	{"C50.911", "Malignant neoplasm of unspecified site of right female breast"},
	{"I50.9", "Heart failure, unspecified"},
	{"G47.33", "Obstructive sleep apnea"},
}

var icd10Chapters = []struct{ letters, chapter string }{
	{"AB", "Certain infectious and parasitic diseases"},
	{"C", "Neoplasms"},
	{"E", "Endocrine, nutritional and metabolic diseases"},
	{"F", "Mental, behavioral and neurodevelopmental disorders"},
	{"G", "Diseases of the nervous system"},
	{"H", "Diseases of the eye, adnexa, ear and mastoid process"},
	{"I", "Diseases of the circulatory system"},
	{"J", "Diseases of the respiratory system"},
	{"K", "Diseases of the digestive system"},
	{"L", "Diseases of the skin and subcutaneous tissue"},
	{"M", "Diseases of the musculoskeletal system and connective tissue"},
	{"N", "Diseases of the genitourinary system"},
	{"O", "Pregnancy, childbirth and the puerperium"},
	{"R", "Symptoms, signs and abnormal findings"},
	{"ST", "Injury, poisoning and other consequences of external causes"},
	{"Z", "Factors influencing health status and contact with health services"},
}

// cptCommon are frequently billed CPT codes with plain descriptions of our own and a
// relative value (used to price lines), most frequent first.
var cptCommon = []struct {
	code, desc, category string
	rvu                  float64
}{
	{"99213", "Office visit, established patient, low complexity", "E/M", 2.6},
	{"99214", "Office visit, established patient, moderate complexity", "E/M", 3.7},
	{"36415", "Routine venipuncture", "Lab", 0.2},
	{"85025", "Complete blood count with differential", "Lab", 0.3},
	{"80053", "Comprehensive metabolic panel", "Lab", 0.4},
	{"99203", "Office visit, new patient, low complexity", "E/M", 3.2},
	{"97110", "Therapeutic exercise, each 15 minutes", "PT", 0.9},
	{"99215", "Office visit, established patient, high complexity", "E/M", 5.2},
	{"80061", "Lipid panel", "Lab", 0.5},
	{"83036", "Hemoglobin A1c", "Lab", 0.4},
	{"90471", "Immunization administration, first injection", "Medicine", 0.6},
	{"99395", "Preventive visit, established patient, 18-39 years", "Preventive", 3.9},
	{"99396", "Preventive visit, established patient, 40-64 years", "Preventive", 4.2},
	{"93000", "Electrocardiogram with interpretation", "Medicine", 0.5},
	{"71046", "Chest X-ray, two views", "Radiology", 0.9},
	{"97140", "Manual therapy, each 15 minutes", "PT", 0.8},
	{"90834", "Psychotherapy, 45 minutes", "Behavioral", 2.8},
	{"99204", "Office visit, new patient, moderate complexity", "E/M", 4.9},
	{"81001", "Urinalysis with microscopy", "Lab", 0.1},
	{"84443", "Thyroid stimulating hormone", "Lab", 0.6},
	{"99285", "Emergency department visit, high severity", "E/M", 7.1},
	{"99283", "Emergency department visit, moderate severity", "E/M", 2.3},
	{"77067", "Screening mammography, bilateral", "Radiology", 3.9},
	{"74177", "CT abdomen and pelvis with contrast", "Radiology", 9.8},
	{"70553", "MRI brain without and with contrast", "Radiology", 11.2},
	{"45378", "Diagnostic colonoscopy", "Surgery", 9.6},
	{"20610", "Arthrocentesis, major joint", "Surgery", 1.9},
	{"11102", "Tangential biopsy of skin, single lesion", "Surgery", 2.9},
	{"17110", "Destruction of benign lesions, up to 14", "Surgery", 3.4},
	{"92014", "Eye examination, established patient, comprehensive", "Ophthalmology", 3.6},
	{"99232", "Subsequent hospital care, moderate complexity", "E/M", 2.8},
	{"99223", "Initial hospital care, high complexity", "E/M", 5.7},
	{"96372", "Therapeutic injection, subcutaneous or intramuscular", "Medicine", 0.4},
	{"87880", "Rapid strep test", "Lab", 0.5},
	{"87635", "SARS-CoV-2 amplified probe test", "Lab", 1.4},
	{"27447", "Total knee arthroplasty", "Surgery", 38.5},
	{"59400", "Routine obstetric care, vaginal delivery", "Surgery", 52.1},
	{"00810", "Anesthesia for lower intestinal endoscopy", "Anesthesia", 5.0},
	{"D0120", "Periodic oral evaluation", "Dental", 1.2},
	{"D1110", "Prophylaxis, adult", "Dental", 2.0},
}

// hcpcsCommon are frequently billed HCPCS Level II codes.
var hcpcsCommon = [][3]string{
	{"G0439", "Annual wellness visit, subsequent", "Preventive"},
	{"J1885", "Injection, ketorolac, 15 mg", "Drugs"},
	{"G2211", "Visit complexity add-on", "E/M"},
	{"J3420", "Injection, vitamin B-12, up to 1000 mcg", "Drugs"},
	{"Q2035", "Influenza virus vaccine, split virus", "Drugs"},
	{"A4253", "Blood glucose test strips, per 50", "Supplies"},
	{"E0601", "Continuous positive airway pressure device", "DME"},
	{"J0696", "Injection, ceftriaxone sodium, per 250 mg", "Drugs"},
	{"G0008", "Administration of influenza vaccine", "Medicine"},
	{"A0427", "Ambulance service, advanced life support, emergency", "Transport"},
	{"J2405", "Injection, ondansetron, per 1 mg", "Drugs"},
	{"L3908", "Wrist hand orthosis, prefabricated", "Orthotics"},
	{"E0114", "Crutches, underarm, pair", "DME"},
	{"J9355", "Injection, trastuzumab, 10 mg", "Drugs"},
	{"G0121", "Colorectal cancer screening, colonoscopy, not high risk", "Preventive"},
}

var hcpcsPrefixes = []struct{ letter, category string }{
	{"A", "Supplies"}, {"E", "DME"}, {"G", "Procedures"}, {"J", "Drugs"},
	{"K", "DME"}, {"L", "Orthotics"}, {"Q", "Temporary"}, {"V", "Vision"},
}

var pendReasons = []string{
	"missing_authorization", "coordination_of_benefits", "medical_review",
	"duplicate_suspect", "eligibility_check", "missing_documentation", "pricing_review",
}

var appointmentTypes = []struct {
	name     string
	duration int
}{
	{"follow_up", 15}, {"follow_up", 20}, {"office_visit", 30}, {"new_patient", 45},
	{"annual_physical", 30}, {"telehealth", 20}, {"procedure", 60}, {"therapy", 45},
}

var appointmentReasons = []string{
	"Follow-up", "Medication review", "Annual physical", "Lab results", "Consultation",
	"Chronic care management", "Post-operative check", "Vaccination", "Therapy session",
	"New concern",
}

var modifiers = []string{"25", "59", "LT", "RT", "26", "TC", "GT", "95"}
