"""A tiny, hand-written dataset that satisfies every rule of the contract (known answers).

Kecamatan Sukamaju: 3 units, the 9 Permenpan RB 38/2017 competencies plus 2 technical ones,
4 positions and 8 employees with NIPs that agree with their birth date, TMT CPNS and gender.
The last employee (a new CPNS) appears in no other table, so tests can break her NIP alone.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features import columns as c
from features.contract import TABLES
from features.io import dtype_of, write_dataset

CAMAT = "197503122000031001"
KASI = "198107252005042002"
STAFF_A = "199002142015031003"
ANALIS = "199211302019022001"
STAFF_B = "198509092010011002"
ANALIS_B = "198803172012121001"
STAFF_C = "199406012020032004"
NEW_CPNS = "199812252024012001"

# fmt: off
_EMPLOYEES = [
    (CAMAT, "Drs. Ahmad Fauzi, M.Si.", "L", "1975-03-12", "2000-03-01", "IV/a", "S2", "01", "P01", None, True),  # noqa: E501
    (KASI, "Siti Rahmawati, S.IP.", "P", "1981-07-25", "2005-04-01", "III/d", "S1", "01.01", "P02", CAMAT, True),  # noqa: E501
    (STAFF_A, "Budi Santoso", "L", "1990-02-14", "2015-03-01", "II/c", "SMA", "01.01", "P03", KASI, True),  # noqa: E501
    (ANALIS, "Dewi Lestari, S.E.", "P", "1992-11-30", "2019-02-01", "III/a", "S1", "01.02", "P04", CAMAT, True),  # noqa: E501
    (STAFF_B, "Rudi Hartono, A.Md.", "L", "1985-09-09", "2010-01-01", "III/b", "D3", "01.02", "P03", CAMAT, True),  # noqa: E501
    (ANALIS_B, "Agus Salim, S.Sos.", "L", "1988-03-17", "2012-12-01", "III/c", "S1", "01.01", "P04", KASI, False),  # noqa: E501
    (STAFF_C, "Nur Aini, A.Md.", "P", "1994-06-01", "2020-03-01", "II/d", "D3", "01.02", "P03", KASI, True),  # noqa: E501
    (NEW_CPNS, "Putri Maharani, A.Md.", "P", "1998-12-25", "2024-01-01", "II/c", "D3", "01", "P03", CAMAT, True),  # noqa: E501
]
_COURSES = [
    ("C01", "Dasar-Dasar Pelayanan Publik", "BPSDM Provinsi Sumatera Selatan", "e_learning", 10, True),  # noqa: E501
    ("C02", "Pelayanan Publik Lanjutan", "BPSDM Provinsi Sumatera Selatan", "klasikal", 24, True),
    ("C03", "Pelatihan Kepemimpinan Pengawas", "LAN RI", "blended", 120, True),
    ("C04", "Administrasi Kependudukan, SIAK", "Ditjen Dukcapil", "workshop", 16, True),
    ("C05", "Penyusunan Kebijakan Publik", "LAN RI", "seminar", 8, False),
]
# fmt: on

_ROWS: dict[str, list[tuple]] = {
    c.UNITS: [
        ("01", "Kecamatan Sukamaju", None),
        ("01.01", "Seksi Pemerintahan", "01"),
        ("01.02", "Kelurahan Mekarsari", "01"),
    ],
    c.COMPETENCIES: [
        ("M01", "Integritas", "manajerial"),
        ("M02", "Kerja Sama", "manajerial"),
        ("M03", "Komunikasi", "manajerial"),
        ("M04", "Orientasi pada Hasil", "manajerial"),
        ("M05", "Pelayanan Publik", "manajerial"),
        ("M06", "Pengembangan Diri dan Orang Lain", "manajerial"),
        ("M07", "Mengelola Perubahan", "manajerial"),
        ("M08", "Pengambilan Keputusan", "manajerial"),
        ("SK01", "Perekat Bangsa", "sosial_kultural"),
        ("T01", "Administrasi Kependudukan", "teknis"),
        ("T02", "Pengelolaan Keuangan Daerah", "teknis"),
    ],
    c.POSITIONS: [
        ("P01", "Camat", "administrator", 12),
        ("P02", "Kepala Seksi Pemerintahan", "pengawas", 9),
        ("P03", "Pengadministrasi Umum", "pelaksana", 5),
        ("P04", "Analis Kebijakan Ahli Pertama", "fungsional", 8),
    ],
    c.POSITION_REQUIREMENTS: [
        ("P01", "M01", 4),
        ("P01", "M02", 4),
        ("P01", "M08", 4),
        ("P01", "SK01", 4),
        ("P02", "M01", 3),
        ("P02", "M03", 3),
        ("P02", "T01", 3),
        ("P03", "M01", 2),
        ("P03", "T01", 2),
        ("P04", "M01", 3),
        ("P04", "M04", 3),
        ("P04", "T02", 3),
    ],
    c.EMPLOYEES: _EMPLOYEES,
    c.ASSESSMENTS: [
        (CAMAT, "M01", 4.0, "2023-03-10", "assessment_center"),
        (CAMAT, "M08", 3.5, "2023-03-10", "assessment_center"),
        (KASI, "M01", 3.0, "2023-05-02", "uji_kompetensi"),
        (KASI, "T01", 2.5, "2023-05-02", "uji_kompetensi"),
        (STAFF_A, "M01", 2.33, "2024-02-20", "penilaian_360"),
        (STAFF_A, "T01", 1.5, "2024-02-20", "mandiri"),
        (ANALIS, "M04", 2.75, "2024-06-11", "penilaian_360"),
        (STAFF_B, "T01", 2.0, "2022-09-01", "uji_kompetensi"),
        (ANALIS_B, "M01", 3.0, "2021-08-15", "assessment_center"),
        (STAFF_C, "M01", 2.5, "2024-06-11", "penilaian_360"),
    ],
    c.PERFORMANCE_REVIEWS: [
        (CAMAT, 2023, "di_atas", "di_atas", "sangat_baik"),
        (CAMAT, 2024, "sesuai", "sesuai", "baik"),
        (KASI, 2023, "sesuai", "di_atas", "baik"),
        (KASI, 2024, "di_atas", "sesuai", "baik"),
        (STAFF_A, 2023, "di_bawah", "sesuai", "butuh_perbaikan"),
        (STAFF_A, 2024, "sesuai", "sesuai", "baik"),
        (ANALIS, 2024, "sesuai", "di_bawah", "kurang"),
        (STAFF_B, 2024, "di_bawah", "di_bawah", "sangat_kurang"),
        (STAFF_C, 2024, "sesuai", "sesuai", "baik"),
    ],
    c.COURSES: _COURSES,
    c.COURSE_COMPETENCIES: [
        ("C01", "M05", 1, 2),
        ("C02", "M05", 2, 3),
        ("C03", "M01", 2, 4),
        ("C03", "M08", 2, 3),
        ("C04", "T01", 1, 3),
        ("C05", "M04", 2, 3),
    ],
    c.COURSE_PREREQUISITES: [
        ("C02", "C01"),
        ("C03", "C02"),
    ],
    c.ENROLLMENTS: [
        (KASI, "C01", "2023-02-01", "2023-02-10", "completed", 85.0),
        (KASI, "C02", "2023-06-05", "2023-06-09", "completed", 78.5),
        (STAFF_A, "C01", "2024-03-01", None, "ongoing", None),
        (STAFF_A, "C04", "2023-08-14", "2023-08-15", "dropped", None),
        (ANALIS, "C05", "2023-10-02", None, "no_show", None),
        (STAFF_B, "C04", "2022-10-10", "2022-10-12", "completed", 90.0),
        (ANALIS_B, "C01", "2021-05-03", "2021-05-20", "completed", 70.0),
        (STAFF_C, "C01", "2024-04-01", "2024-04-15", "completed", 88.0),
    ],
    c.MENTORSHIPS: [
        (CAMAT, KASI, "M08", "2023-01-09", "2023-06-30", 4),
        (KASI, STAFF_A, "T01", "2024-01-15", None, None),
        (ANALIS, STAFF_C, "M04", "2024-07-01", "2024-12-20", 5),
    ],
}


def _typed(table: str, rows: list[tuple]) -> pd.DataFrame:
    """Build a frame in the typed form straight from Python values (not via the reader)."""
    spec = TABLES[table]
    data = {}
    for i, col in enumerate(spec.columns):
        values = [row[i] for row in rows]
        if col.dtype == "date":
            data[col.name] = pd.to_datetime(pd.Series(values, dtype=object)).astype(
                "datetime64[ns]"
            )
        else:
            data[col.name] = pd.Series(values, dtype=dtype_of(col))
    return pd.DataFrame(data)


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Every table of the contract, typed, valid (no errors and no warnings)."""
    return {table: _typed(table, _ROWS[table]) for table in TABLES}


def write_tiny(folder: str | Path) -> Path:
    """Write the tiny dataset as CSV files in the contract's text form; return the folder."""
    folder = Path(folder)
    write_dataset(tiny_tables(), folder, fmt="csv")
    return folder
