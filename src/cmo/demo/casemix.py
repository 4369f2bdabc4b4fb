"""The generating model's tables: case mix, comorbidities, complications, code lists.

Every number here is documented in docs/demo-data.md with the public figure it is calibrated
to. Sources: HCUP Statistical Briefs #277 (most frequent principal diagnoses, 2018) and #225
(costs/LOS), HCUP Fast Stats and NIS summary statistics (crude in-hospital mortality ~2-3%,
mean LOS ~4.5-5.5 days), CMS Hospital Readmissions Reduction Program condition-specific
30-day readmission and mortality rates (Hospital Compare, 2019-2022), NHSN 2022 AR/HAI
benchmarks (CLABSI/CAUTI ~1 per 1,000 device days) and AHRQ National Scorecard on HACs.
Codes: ICD-10-CM (FY2024, checked with simple-icd-10-cm in the tests), ICD-10-PCS (CMS
FY2024 tables), NUCC provider taxonomy, HL7 terminology code systems.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# -- code systems ---------------------------------------------------------------------------
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
SNOMED = "http://snomed.info/sct"
NUCC = "http://nucc.org/provider-taxonomy"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # identifier types (MR: the MRN)
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
ADMIT_SOURCE = "http://terminology.hl7.org/CodeSystem/admit-source"
DISCHARGE = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
NUBC_DISCHARGE = "https://www.nubc.org/CodeSystem/PatDischargeStatus"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
DIAGNOSIS_ROLE = "http://terminology.hl7.org/CodeSystem/diagnosis-role"
ON_ADMISSION = "http://terminology.hl7.org/CodeSystem/ex-diagnosis-on-admission"
DIAGNOSIS_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
PRACTITIONER_ROLE = "http://terminology.hl7.org/CodeSystem/practitioner-role"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
REVENUE = "https://www.nubc.org/CodeSystem/RevenueCodes"
PAYER_TYPE = "https://nahdo.org/sopt"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"

# -- departments (child Organizations of a hospital) -----------------------------------------
# key: (name, NUCC taxonomy code of the department's physicians, display)
DEPARTMENTS: dict[str, tuple[str, str, str]] = {
    "medicine": ("Hospital Medicine", "208M00000X", "Hospitalist"),
    "cardiology": ("Cardiology", "207RC0000X", "Cardiovascular Disease Physician"),
    "neurology": ("Neurology", "2084N0400X", "Neurology Physician"),
    "critical-care": ("Critical Care", "207RC0200X", "Critical Care Medicine Physician"),
    "surgery": ("General Surgery", "208600000X", "Surgery Physician"),
    "orthopedics": ("Orthopaedic Surgery", "207X00000X", "Orthopaedic Surgery Physician"),
    "cardiac-surgery": ("Cardiothoracic Surgery", "208G00000X", "Thoracic Surgery Physician"),
    "emergency": ("Emergency Medicine", "207P00000X", "Emergency Medicine Physician"),
    "primary-care": ("Primary Care", "207Q00000X", "Family Medicine Physician"),
    "obstetrics": ("Obstetrics", "207V00000X", "Obstetrics & Gynecology Physician"),
    "psychiatry": ("Psychiatry", "2084P0800X", "Psychiatry Physician"),
    "rehabilitation": (
        "Inpatient Rehabilitation",
        "208100000X",
        "Physical Medicine & Rehabilitation Physician",
    ),
}

# -- comorbidities ---------------------------------------------------------------------------
# prevalence p(age) = logistic(logit(p65) + slope * (age - 65) / 10); weight enters the
# burden score B = sum(weight) that raises admission rate, mortality, readmission and LOS.
# Weights follow the Charlson index (Charlson 1987 / Quan 2011) where the condition is in it.


@dataclass(frozen=True)
class Comorbidity:
    key: str
    codes: tuple[str, ...]  # alternatives, the first is the most common
    p65: float
    slope: float
    weight: float


COMORBIDITIES: tuple[Comorbidity, ...] = (
    Comorbidity("hypertension", ("I10",), 0.58, 0.45, 0.0),
    Comorbidity("hyperlipidemia", ("E78.5",), 0.45, 0.20, 0.0),
    Comorbidity("diabetes", ("E11.9", "E11.9", "E11.22", "E11.65"), 0.26, 0.10, 1.0),
    Comorbidity("ckd", ("N18.30", "N18.30", "N18.4"), 0.14, 0.50, 2.0),
    Comorbidity("copd", ("J44.9",), 0.12, 0.30, 1.0),
    Comorbidity("chf", ("I50.22", "I50.32"), 0.08, 0.60, 1.0),
    Comorbidity("afib", ("I48.20",), 0.08, 0.70, 0.0),
    Comorbidity("cad", ("I25.10",), 0.17, 0.40, 0.0),
    Comorbidity("old_mi", ("I25.2",), 0.06, 0.40, 1.0),
    Comorbidity("obesity", ("E66.9", "E66.01"), 0.30, -0.10, 0.0),
    Comorbidity("dementia", ("F03.90",), 0.035, 1.00, 1.0),
    Comorbidity("depression", ("F32.9", "F32.A"), 0.12, -0.10, 0.0),
    Comorbidity("hypothyroidism", ("E03.9",), 0.12, 0.20, 0.0),
    Comorbidity("cancer", ("C34.90", "C50.911", "C61", "C18.9"), 0.05, 0.30, 2.0),
    Comorbidity("metastatic", ("C78.00", "C79.51", "C77.9"), 0.012, 0.30, 6.0),
    Comorbidity("liver", ("K70.30", "K74.60"), 0.03, -0.10, 3.0),
    Comorbidity("pvd", ("I73.9",), 0.06, 0.50, 1.0),
    Comorbidity("cerebrovascular", ("I69.30",), 0.05, 0.60, 1.0),
    Comorbidity("rheumatic", ("M06.9",), 0.02, 0.00, 1.0),
    Comorbidity("anemia", ("D50.9",), 0.10, 0.30, 0.0),
    Comorbidity("alcohol", ("F10.20",), 0.04, -0.30, 0.0),
    Comorbidity("tobacco", ("F17.210",), 0.15, -0.30, 0.0),
)

# -- case mix --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Procedure:
    code: str  # ICD-10-PCS
    display: str
    prob: float  # share of this condition's stays that get it


@dataclass(frozen=True)
class CaseType:
    """One inpatient condition: its codes and the coefficients of the stay model.

    mortality/readmission/post30 are probabilities for the reference patient (age 70, burden
    B = 2, severity z = 0); los is the mean length of stay in days for that patient.
    """

    key: str
    title: str
    weight: float  # relative admission frequency at age 65
    age_slope: float  # log relative frequency per decade of age
    department: str
    codes: tuple[str, ...]  # principal ICD-10-CM codes (first = most common)
    mortality: float
    los: float
    readmission: float
    post30: float  # death within 30 days after a live discharge
    icu: float  # share of stays with ICU days
    elective: float = 0.0  # share admitted electively (priority EL, admit source mp)
    procedures: tuple[Procedure, ...] = ()
    surgical: bool = False
    complication: float = 0.0  # post-operative complication probability (surgical only)
    charge: float = 12_000.0  # billed amount for the reference stay (USD)
    extra_secondary: tuple[str, ...] = field(default=())  # acute secondary codes, p=0.3 each
    female_only: bool = False  # obstetric cases
    max_age: float = 200.0  # no admissions of this type above this age
    encounter_class: str = "IMP"  # v3 ActCode: IMP (acute inpatient) or NONAC (non-acute)


CASE_TYPES: tuple[CaseType, ...] = (
    CaseType(
        "sepsis",
        "Sepsis",
        10.0,
        0.35,
        "medicine",
        ("A41.9", "A41.9", "A41.51", "A41.01"),
        0.085,
        5.0,
        0.17,
        0.08,
        0.45,
        charge=38_000,
        extra_secondary=("R65.20", "N17.9"),
    ),
    CaseType(
        "hf",
        "Heart failure",
        9.0,
        0.55,
        "cardiology",
        ("I50.23", "I50.33", "I50.21", "I50.31", "I50.9"),
        0.028,
        3.5,
        0.21,
        0.07,
        0.10,
        charge=24_000,
        extra_secondary=("E87.1", "N17.9"),
    ),
    CaseType(
        "pneumonia",
        "Pneumonia",
        7.0,
        0.45,
        "medicine",
        ("J18.9", "J18.9", "J18.1", "J15.9", "J69.0"),
        0.032,
        4.2,
        0.16,
        0.06,
        0.12,
        charge=22_000,
        extra_secondary=("J96.01", "E86.0"),
    ),
    CaseType(
        "copd",
        "COPD exacerbation",
        5.0,
        0.30,
        "medicine",
        ("J44.1", "J44.1", "J44.0"),
        0.012,
        3.7,
        0.19,
        0.04,
        0.08,
        charge=18_000,
        extra_secondary=("J96.01",),
    ),
    CaseType(
        "ami",
        "Acute myocardial infarction",
        5.0,
        0.35,
        "cardiology",
        ("I21.4", "I21.4", "I21.09", "I21.11", "I21.19"),
        0.045,
        3.2,
        0.15,
        0.05,
        0.40,
        procedures=(
            Procedure(
                "027034Z",
                "Dilation of Coronary Artery, One Artery with "
                "Drug-eluting Intraluminal Device, Percutaneous Approach",
                0.55,
            ),
        ),
        charge=45_000,
    ),
    CaseType(
        "stroke",
        "Stroke",
        5.0,
        0.50,
        "neurology",
        ("I63.9", "I63.512", "I63.511", "I61.9"),
        0.055,
        3.9,
        0.12,
        0.07,
        0.25,
        charge=30_000,
        extra_secondary=("R47.01", "G81.90"),
    ),
    CaseType(
        "gi_bleed",
        "Gastrointestinal hemorrhage",
        4.0,
        0.35,
        "medicine",
        ("K92.2", "K92.1", "K25.4", "K92.0"),
        0.02,
        4.0,
        0.14,
        0.04,
        0.15,
        procedures=(
            Procedure(
                "0DJ08ZZ",
                "Inspection of Upper Intestinal Tract, Via "
                "Natural or Artificial Opening Endoscopic",
                0.70,
            ),
        ),
        charge=21_000,
        extra_secondary=("D62",),
    ),
    CaseType(
        "uti",
        "Urinary tract infection",
        4.0,
        0.45,
        "medicine",
        ("N39.0", "N39.0", "N10"),
        0.01,
        3.7,
        0.14,
        0.04,
        0.03,
        charge=15_000,
    ),
    CaseType(
        "dka",
        "Diabetic ketoacidosis",
        2.0,
        -0.60,
        "medicine",
        ("E11.10", "E10.10"),
        0.005,
        4.1,
        0.20,
        0.01,
        0.45,
        charge=17_000,
        extra_secondary=("E87.20",),
    ),
    CaseType(
        "afib",
        "Atrial fibrillation",
        4.0,
        0.45,
        "cardiology",
        ("I48.91", "I48.0"),
        0.007,
        2.9,
        0.12,
        0.02,
        0.05,
        charge=16_000,
    ),
    CaseType(
        "cellulitis",
        "Cellulitis",
        4.0,
        -0.10,
        "medicine",
        ("L03.115", "L03.116"),
        0.003,
        4.4,
        0.10,
        0.01,
        0.01,
        charge=13_000,
    ),
    CaseType(
        "aki",
        "Acute kidney injury",
        3.0,
        0.50,
        "medicine",
        ("N17.9",),
        0.04,
        3.4,
        0.18,
        0.06,
        0.08,
        charge=19_000,
    ),
    CaseType(
        "chest_pain",
        "Chest pain",
        3.0,
        0.00,
        "cardiology",
        ("R07.9", "R07.89"),
        0.001,
        1.9,
        0.07,
        0.005,
        0.0,
        charge=9_000,
    ),
    CaseType(
        "hip_replacement",
        "Elective total hip replacement",
        4.0,
        0.05,
        "orthopedics",
        ("M16.11", "M16.12"),
        0.001,
        2.9,
        0.04,
        0.002,
        0.01,
        elective=1.0,
        procedures=(
            Procedure(
                "0SR9019",
                "Replacement of Right Hip Joint with Metal on "
                "Polyethylene Synthetic Substitute, Cemented, Open Approach",
                1.0,
            ),
        ),
        surgical=True,
        complication=0.03,
        charge=48_000,
    ),
    CaseType(
        "knee_replacement",
        "Elective total knee replacement",
        5.0,
        0.05,
        "orthopedics",
        ("M17.11", "M17.12"),
        0.0005,
        2.9,
        0.035,
        0.001,
        0.01,
        elective=1.0,
        procedures=(
            Procedure(
                "0SRC0J9",
                "Replacement of Right Knee Joint with Synthetic "
                "Substitute, Cemented, Open Approach",
                1.0,
            ),
        ),
        surgical=True,
        complication=0.03,
        charge=45_000,
    ),
    CaseType(
        "hip_fracture",
        "Hip fracture",
        3.0,
        0.90,
        "orthopedics",
        ("S72.001A", "S72.002A"),
        0.03,
        4.5,
        0.13,
        0.06,
        0.05,
        procedures=(
            Procedure(
                "0QS634Z",
                "Reposition Right Upper Femur with Internal Fixation Device, Percutaneous Approach",
                0.95,
            ),
        ),
        surgical=True,
        complication=0.08,
        charge=42_000,
    ),
    CaseType(
        "cabg",
        "Coronary artery bypass graft",
        1.5,
        0.10,
        "cardiac-surgery",
        ("I25.10", "I21.4"),
        0.02,
        7.0,
        0.12,
        0.01,
        1.0,
        elective=0.6,
        procedures=(
            Procedure(
                "021109W",
                "Bypass Coronary Artery, Two Arteries from Aorta "
                "with Autologous Venous Tissue, Open Approach",
                1.0,
            ),
        ),
        surgical=True,
        complication=0.10,
        charge=120_000,
    ),
    CaseType(
        "colectomy",
        "Colectomy",
        2.0,
        0.20,
        "surgery",
        ("C18.7", "K57.20", "C18.2"),
        0.025,
        6.8,
        0.12,
        0.015,
        0.15,
        elective=0.6,
        procedures=(
            Procedure(
                "0DTN4ZZ", "Resection of Sigmoid Colon, Percutaneous Endoscopic Approach", 0.6
            ),
            Procedure("0DTN0ZZ", "Resection of Sigmoid Colon, Open Approach", 0.4),
        ),
        surgical=True,
        complication=0.15,
        charge=60_000,
    ),
    CaseType(
        "appendicitis",
        "Appendicitis",
        2.0,
        -0.70,
        "surgery",
        ("K35.80",),
        0.001,
        2.5,
        0.05,
        0.001,
        0.01,
        procedures=(
            Procedure("0DTJ4ZZ", "Resection of Appendix, Percutaneous Endoscopic Approach", 1.0),
        ),
        surgical=True,
        complication=0.03,
        charge=25_000,
    ),
    CaseType(
        "cholecystitis",
        "Cholecystitis",
        2.0,
        0.0,
        "surgery",
        ("K80.00", "K81.0"),
        0.003,
        3.8,
        0.07,
        0.003,
        0.02,
        procedures=(
            Procedure("0FT44ZZ", "Resection of Gallbladder, Percutaneous Endoscopic Approach", 1.0),
        ),
        surgical=True,
        complication=0.03,
        charge=27_000,
    ),
    # Obstetric, psychiatric and rehabilitation stays: the measures' exclusions need them
    # (MDC 14, HWR psychiatric index exclusion, non-acute stays). Delivery LOS and outcomes:
    # HCUP Statistical Brief #310 (vaginal delivery, mean LOS ~2 days); psychiatric: HCUP
    # SB #249 (mood disorders, mean LOS ~6-7 days).
    CaseType(
        "delivery",
        "Vaginal delivery",
        2.0,
        -1.1,
        "obstetrics",
        ("O80", "O80", "O70.1"),
        0.0002,
        2.2,
        0.03,
        0.0005,
        0.005,
        elective=0.3,
        procedures=(
            Procedure("10E0XZZ", "Delivery of Products of Conception, External Approach", 1.0),
        ),
        charge=9_000,
        female_only=True,
        max_age=45.0,
    ),
    CaseType(
        "psychiatric",
        "Major depression or psychosis",
        1.2,
        -0.3,
        "psychiatry",
        ("F32.2", "F33.2", "F20.9", "F31.2"),
        0.001,
        6.5,
        0.12,
        0.004,
        0.0,
        charge=14_000,
    ),
)
# Inpatient rehabilitation (class NONAC) after a stroke or a hip fracture/replacement discharged
# to rehabilitation: never drawn as an index admission; its principal diagnosis follows the acute
# stay (CMS IRF coding: the etiologic diagnosis or aftercare code).
REHAB_CASE = CaseType(
    "rehabilitation",
    "Inpatient rehabilitation",
    0.0,
    0.0,
    "rehabilitation",
    ("I69.351", "Z47.89"),
    0.002,
    12.0,
    0.10,
    0.01,
    0.0,
    charge=30_000,
    encounter_class="NONAC",
)
CASE_BY_KEY = {c.key: c for c in (*CASE_TYPES, REHAB_CASE)}

# Left-knee/left-hip alternatives for the right-sided PCS codes above, chosen with the
# principal diagnosis' laterality (M16.12/M17.12/S72.002A = left).
LEFT_PROCEDURE = {"0SR9019": "0SRB019", "0SRC0J9": "0SRD0J9", "0QS634Z": "0QS734Z"}
LEFT_DIAGNOSES = {"M16.12", "M17.12", "S72.002A"}

# Severity-driven secondary diagnoses (CMS MS-DRG v41 MCC and CC lists): sicker patients
# (higher latent severity z) get them, so the DRG severity level tracks the stay's risk.
MCC_CODES = ("J96.01", "G93.41", "E43", "N17.0", "E87.0")
CC_CODES = ("N17.9", "E87.1", "E44.0", "F05", "J96.11", "E87.70")

# Post-operative complications: (code, display, in-stay onset?) by case type family.
COMPLICATIONS = {
    "hip_replacement": ("T84.51XA", "I26.99", "T81.41XA", "I82.401"),
    "knee_replacement": ("T84.53XA", "I26.99", "T81.41XA", "I82.401"),
    "default": ("T81.41XA", "I26.99", "J18.9", "A41.9", "K91.89"),
}

# -- hospital-acquired conditions (not present on admission) ---------------------------------
CLABSI_CODE = "T80.211A"  # bloodstream infection due to central venous catheter
CAUTI_CODE = "T83.511A"  # infection due to indwelling urethral catheter
FALL_CODES = ("S72.002A", "S06.0X0A", "S52.501A")  # injury; external cause W19.XXXA added
FALL_CAUSE = "W19.XXXA"
PRESSURE_CODES = ("L89.153", "L89.154", "L89.313", "L89.314")
CENTRAL_LINE_PCS = (
    "02HV33Z",
    "Insertion of Infusion Device into Superior Vena Cava, Percutaneous Approach",
)
URINARY_CATHETER_PCS = (
    "0T9B70Z",
    "Drainage of Bladder with Drainage Device, Via Natural or Artificial Opening",
)
VENTILATION_PCS = ("5A1955Z", "Respiratory Ventilation, Greater than 96 Consecutive Hours")
DEVICE_TYPES = {
    "central-line": ("52124006", "Central venous catheter"),
    "urinary-catheter": ("20568009", "Urinary catheter"),
}

# -- ambulatory and emergency diagnoses --------------------------------------------------------
ED_CODES = (
    "R07.9",
    "R10.9",
    "S93.401A",
    "J06.9",
    "R51.9",
    "M54.50",
    "R55",
    "N39.0",
    "K52.9",
    "R11.2",
    "L03.115",
    "J02.9",
)
OUTPATIENT_CODES = (
    "I10",
    "E11.9",
    "Z00.00",
    "J44.9",
    "E78.5",
    "M17.11",
    "M54.50",
    "J02.9",
    "I50.22",
    "Z23",
    "F32.9",
    "E03.9",
)

# -- discharge dispositions ------------------------------------------------------------------
# key: (HL7 discharge-disposition code, NUBC patient discharge status (UB-04 FL17), NUBC display).
# Each pair read from the code systems' definitions: HL7 ``hosp`` is Hospice (NUBC 50/51), a
# transfer to another acute hospital is HL7 ``other-hcf`` (NUBC 02); HL7 has no home-health code
# (``alt-home`` is someone else's home), so home health is ``home`` with NUBC 06.
DISPOSITIONS: dict[str, tuple[str, str, str]] = {
    "home": ("home", "01", "Discharged to home or self care (routine discharge)"),
    "alt_home": ("alt-home", "01", "Discharged to home or self care (routine discharge)"),
    "home_health": (
        "home",
        "06",
        "Discharged/transferred to home under care of organized home health service organization",
    ),
    "snf": (
        "snf",
        "03",
        "Discharged/transferred to a skilled nursing facility (SNF) with Medicare certification",
    ),
    "rehab": (
        "rehab",
        "62",
        "Discharged/transferred to an inpatient rehabilitation facility (IRF)",
    ),
    "long": (
        "long",
        "63",
        "Discharged/transferred to a Medicare certified long term care hospital (LTCH)",
    ),
    "psych": (
        "psy",
        "65",
        "Discharged/transferred to a psychiatric hospital or psychiatric distinct part unit",
    ),
    "hospice": ("hosp", "50", "Hospice - home"),
    "hospice_facility": (
        "hosp",
        "51",
        "Hospice - medical facility (certified) providing hospice level of care",
    ),
    "ama": ("aadvice", "07", "Left against medical advice or discontinued care"),
    "expired": ("exp", "20", "Expired"),
    "transfer": (
        "other-hcf",
        "02",
        "Discharged/transferred to a short-term general hospital for inpatient care",
    ),
}

# -- payers ----------------------------------------------------------------------------------
# key: (Source of Payment Typology code, display, payer Organization name, paid/billed ratio)
PAYERS: dict[str, tuple[str, str, str, float]] = {
    "medicare": ("1", "MEDICARE", "Medicare (CMS)", 0.28),
    "medicaid": ("2", "MEDICAID", "State Medicaid Program", 0.22),
    "commercial": ("5", "PRIVATE HEALTH INSURANCE", "Lakeshore Health Plan", 0.45),
    "self": ("81", "Self-pay", "Self-pay", 0.10),
}

# -- PROMIS Global-10 (v1.2) -----------------------------------------------------------------
# PROMIS item ids; items 1-6, 8-10 on 1-5 scales (Global10 and Global08 reversed in scoring),
# Global07 is pain on 0-10. Source: HealthMeasures, PROMIS Global Health scoring manual.
PROMIS_QUESTIONNAIRE = "http://www.healthmeasures.net/fhir/Questionnaire/promis-global-health-10"
PROMIS_ITEMS: tuple[tuple[str, str], ...] = (
    ("Global01", "In general, would you say your health is"),
    ("Global02", "In general, would you say your quality of life is"),
    ("Global03", "In general, how would you rate your physical health?"),
    ("Global04", "In general, how would you rate your mental health?"),
    ("Global05", "In general, how would you rate your satisfaction with your social activities"),
    ("Global09", "In general, please rate how well you carry out your usual social activities"),
    ("Global06", "To what extent are you able to carry out your everyday physical activities?"),
    ("Global10", "How often have you been bothered by emotional problems?"),
    ("Global08", "How would you rate your fatigue on average?"),
    ("Global07", "How would you rate your pain on average?"),
)

# Names for synthetic people (common US given/family names; no real person intended).
GIVEN_F = (
    "Mary",
    "Patricia",
    "Jennifer",
    "Linda",
    "Elizabeth",
    "Barbara",
    "Susan",
    "Jessica",
    "Sarah",
    "Karen",
    "Lisa",
    "Nancy",
    "Betty",
    "Sandra",
    "Margaret",
    "Ashley",
    "Emily",
    "Donna",
    "Michelle",
    "Carol",
    "Amanda",
    "Melissa",
    "Deborah",
    "Stephanie",
    "Maria",
)
GIVEN_M = (
    "James",
    "Robert",
    "John",
    "Michael",
    "David",
    "William",
    "Richard",
    "Joseph",
    "Thomas",
    "Charles",
    "Christopher",
    "Daniel",
    "Matthew",
    "Anthony",
    "Mark",
    "Donald",
    "Steven",
    "Paul",
    "Andrew",
    "Joshua",
    "Kenneth",
    "Kevin",
    "Brian",
    "George",
    "Jose",
)
FAMILY = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
)
