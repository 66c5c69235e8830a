"""Column names, table names and enumerations of the data contract, defined once."""

from __future__ import annotations

# --- table names (file stems) -------------------------------------------------------------
UNITS = "units"
COMPETENCIES = "competencies"
POSITIONS = "positions"
POSITION_REQUIREMENTS = "position_requirements"
EMPLOYEES = "employees"
ASSESSMENTS = "assessments"
PERFORMANCE_REVIEWS = "performance_reviews"
COURSES = "courses"
COURSE_COMPETENCIES = "course_competencies"
COURSE_PREREQUISITES = "course_prerequisites"
ENROLLMENTS = "enrollments"
MENTORSHIPS = "mentorships"

ALL_TABLES = (
    UNITS,
    COMPETENCIES,
    POSITIONS,
    POSITION_REQUIREMENTS,
    EMPLOYEES,
    ASSESSMENTS,
    PERFORMANCE_REVIEWS,
    COURSES,
    COURSE_COMPETENCIES,
    COURSE_PREREQUISITES,
    ENROLLMENTS,
    MENTORSHIPS,
)
#: Tables that may be absent from a dataset folder (no history yet).
OPTIONAL_TABLES = frozenset({MENTORSHIPS, COURSE_PREREQUISITES, PERFORMANCE_REVIEWS})

# --- column names -------------------------------------------------------------------------
UNIT_ID = "unit_id"
NAME = "name"
PARENT_UNIT_ID = "parent_unit_id"
COMPETENCY_ID = "competency_id"
KIND = "kind"
POSITION_ID = "position_id"
TITLE = "title"
CATEGORY = "category"
GRADE = "grade"
REQUIRED_LEVEL = "required_level"
NIP = "nip"
GENDER = "gender"
BIRTH_DATE = "birth_date"
TMT_CPNS = "tmt_cpns"
GOLONGAN = "golongan"
EDUCATION = "education"
SUPERVISOR_NIP = "supervisor_nip"
ACTIVE = "active"
LEVEL = "level"
ASSESSED_ON = "assessed_on"
METHOD = "method"
YEAR = "year"
WORK_RESULT = "work_result"
WORK_BEHAVIOR = "work_behavior"
RATING = "rating"
COURSE_ID = "course_id"
PROVIDER = "provider"
MODE = "mode"
HOURS_JP = "hours_jp"
MIN_LEVEL = "min_level"
TARGET_LEVEL = "target_level"
PREREQUISITE_ID = "prerequisite_id"
START_DATE = "start_date"
END_DATE = "end_date"
STATUS = "status"
SCORE = "score"
MENTOR_NIP = "mentor_nip"
MENTEE_NIP = "mentee_nip"
OUTCOME = "outcome"

# --- enumerations -------------------------------------------------------------------------
COMPETENCY_KINDS = ("manajerial", "sosial_kultural", "teknis")
POSITION_CATEGORIES = ("jpt", "administrator", "pengawas", "pelaksana", "fungsional")
GOLONGAN_VALUES = (
    "I/a", "I/b", "I/c", "I/d",
    "II/a", "II/b", "II/c", "II/d",
    "III/a", "III/b", "III/c", "III/d",
    "IV/a", "IV/b", "IV/c", "IV/d", "IV/e",
)  # fmt: skip
#: Ordinal rank of a golongan (I/a = 1 .. IV/e = 17), used for seniority.
GOLONGAN_RANK = {g: i + 1 for i, g in enumerate(GOLONGAN_VALUES)}
EDUCATION_VALUES = ("SD", "SMP", "SMA", "D1", "D2", "D3", "D4", "S1", "S2", "S3")
GENDERS = ("L", "P")
ASSESSMENT_METHODS = ("assessment_center", "uji_kompetensi", "penilaian_360", "mandiri")
EXPECTATION_VALUES = ("di_atas", "sesuai", "di_bawah")
RATING_VALUES = ("sangat_baik", "baik", "butuh_perbaikan", "kurang", "sangat_kurang")
#: Numeric score of an SKP rating (higher is better), for trends and the 9-box.
RATING_SCORE = {"sangat_baik": 5, "baik": 4, "butuh_perbaikan": 3, "kurang": 2, "sangat_kurang": 1}
#: How Permenpan RB 6/2022 words each rating (predikat kinerja) where a person reads it; the
#: contract's values stay plain identifiers.
RATING_LABELS = {
    "sangat_baik": "Sangat Baik",
    "baik": "Baik",
    "butuh_perbaikan": "Butuh Perbaikan",
    "kurang": "Kurang/Misconduct",
    "sangat_kurang": "Sangat Kurang",
}
COURSE_MODES = (
    "klasikal", "e_learning", "blended", "workshop", "seminar", "coaching", "mentoring", "magang",
)  # fmt: skip
#: Formats that people who tend to drop out still complete (the inclusive approach).
LOW_BARRIER_MODES = ("blended", "coaching", "mentoring")
ENROLLMENT_STATUSES = ("completed", "dropped", "no_show", "ongoing")

#: SKP rating by (work_result, work_behavior), Permenpan RB 6/2022.
SKP_MATRIX = {
    ("di_atas", "di_bawah"): "kurang",
    ("di_atas", "sesuai"): "baik",
    ("di_atas", "di_atas"): "sangat_baik",
    ("sesuai", "di_bawah"): "kurang",
    ("sesuai", "sesuai"): "baik",
    ("sesuai", "di_atas"): "baik",
    ("di_bawah", "di_bawah"): "sangat_kurang",
    ("di_bawah", "sesuai"): "butuh_perbaikan",
    ("di_bawah", "di_atas"): "butuh_perbaikan",
}

#: Minimum competency development per ASN per year, in JP: PP 11/2017 Pasal 203 ayat (4), as
#: amended by PP 17/2020 (the amendment did not move the obligation out of PP 11/2017).
MIN_JP_PER_YEAR = 20
#: The citation of that rule as people read it (Bahasa Indonesia, English).
MIN_JP_RULE_ID = "PP 11/2017 Pasal 203 ayat (4) jo. PP 17/2020"
MIN_JP_RULE_EN = "PP 11/2017 art. 203(4), as amended by PP 17/2020"
#: Managerial competency levels run 1..5 (Permenpan RB 38/2017).
MIN_LEVEL_VALUE = 1
MAX_LEVEL_VALUE = 5
