"""Static definitions behind the demo dataset: regions, competencies, positions, course themes.

Everything here is hand-written reference data; the other `demo_data` modules turn it into
tables and draw the people and the history. Kota Palembang's 18 kecamatan and 107
kelurahan follow the Kemendagri region codes (Jakabaring and Ilir Timur III were split off
Seberang Ulu I and Ilir Timur II by the 2016 Perda); the other Sumatera Selatan regions are
written from general knowledge and only need to look familiar to a BKPSDM reader.
Sources: docs/domain.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from features import columns as c

# --- organisation -----------------------------------------------------------------------------

#: Kota Palembang, Kertapati first (the demo's home kecamatan), then the other 17 kecamatan,
#: each with its kelurahan. Kertapati's six kelurahan are the ones usually listed for it.
PALEMBANG_KECAMATAN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Kertapati", ("Karya Jaya", "Kemang Agung", "Kemas Rindo", "Keramasan", "Kertapati",
                   "Ogan Baru")),
    ("Ilir Barat I", ("Bukit Baru", "Bukit Lama", "Demang Lebar Daun", "Lorok Pakjo",
                      "Siring Agung", "26 Ilir D I")),
    ("Ilir Barat II", ("27 Ilir", "28 Ilir", "29 Ilir", "30 Ilir", "32 Ilir", "35 Ilir",
                       "Kemang Manis")),
    ("Ilir Timur I", ("13 Ilir", "14 Ilir", "15 Ilir", "16 Ilir", "17 Ilir", "18 Ilir",
                      "20 Ilir D I", "20 Ilir D III", "20 Ilir D IV", "Kepandean Baru",
                      "Sungai Pangeran")),
    ("Ilir Timur II", ("1 Ilir", "2 Ilir", "3 Ilir", "5 Ilir", "Lawang Kidul", "Sei Buah")),
    ("Ilir Timur III", ("8 Ilir", "9 Ilir", "10 Ilir", "11 Ilir", "Kuto Batu", "Duku")),
    ("Seberang Ulu I", ("1 Ulu", "2 Ulu", "3-4 Ulu", "5 Ulu", "7 Ulu")),
    ("Jakabaring", ("8 Ulu", "9/10 Ulu", "15 Ulu", "Silaberanti", "Tuan Kentang")),
    ("Seberang Ulu II", ("11 Ulu", "12 Ulu", "13 Ulu", "14 Ulu", "16 Ulu", "Sentosa",
                         "Tangga Takat")),
    ("Plaju", ("Bagus Kuning", "Komperta", "Plaju Darat", "Plaju Ilir", "Plaju Ulu",
               "Talang Bubuk", "Talang Putri")),
    ("Gandus", ("36 Ilir", "Gandus", "Karang Anyar", "Karang Jaya", "Pulokerto")),
    ("Bukit Kecil", ("19 Ilir", "22 Ilir", "23 Ilir", "24 Ilir", "26 Ilir", "Talang Semut")),
    ("Kemuning", ("20 Ilir D II", "Ario Kemuning", "Pahlawan", "Pipa Reja", "Sekip Jaya",
                  "Talang Aman")),
    ("Kalidoni", ("Bukit Sangkal", "Kalidoni", "Sei Lais", "Sei Selayur", "Sei Selincah")),
    ("Sako", ("Sako", "Sako Baru", "Sialang", "Sukamaju")),
    ("Sematang Borang", ("Karya Mulya", "Lebung Gajah", "Srimulya", "Suka Mulya")),
    ("Sukarami", ("Kebun Bunga", "Sukabangun", "Sukajaya", "Sukarami", "Sukodadi",
                  "Talang Betutu", "Talang Jambe")),
    ("Alang-Alang Lebar", ("Alang-Alang Lebar", "Karya Baru", "Srijaya", "Talang Kelapa")),
)  # fmt: skip

#: Other kabupaten/kota of Sumatera Selatan and (most of) their kecamatan, used only when
#: the requested size outgrows Kota Palembang. Their villages are mostly desa (not staffed by
#: ASN), so these kecamatan get sections (seksi/subbagian) as sub-units instead.
SUMSEL_REGIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Kabupaten Ogan Ilir", ("Indralaya", "Indralaya Utara", "Indralaya Selatan", "Tanjung Batu",
        "Tanjung Raja", "Pemulutan", "Pemulutan Barat", "Pemulutan Selatan", "Muara Kuang",
        "Rantau Alai", "Rantau Panjang", "Sungai Pinang", "Payaraman", "Lubuk Keliat", "Kandis",
        "Rambang Kuang")),
    ("Kabupaten Banyuasin", ("Banyuasin I", "Banyuasin II", "Banyuasin III", "Betung",
        "Talang Kelapa", "Rambutan", "Muara Padang", "Muara Telang", "Makarti Jaya",
        "Tanjung Lago", "Rantau Bayur", "Pulau Rimau", "Sembawa", "Suak Tapeh", "Tungkal Ilir",
        "Muara Sugihan", "Air Kumbang", "Air Salek", "Selat Penuguan", "Sumber Marga Telang",
        "Karang Agung Ilir")),
    ("Kabupaten Ogan Komering Ilir", ("Kayu Agung", "Sirah Pulau Padang", "Jejawi",
        "Pampangan", "Pangkalan Lapam", "Tulung Selapan", "Cengal", "Sungai Menang",
        "Air Sugihan", "Pedamaran", "Pedamaran Timur", "Tanjung Lubuk", "Teluk Gelam",
        "Lempuing", "Lempuing Jaya", "Mesuji", "Mesuji Raya", "Mesuji Makmur")),
    ("Kabupaten Muara Enim", ("Muara Enim", "Lawang Kidul", "Tanjung Agung", "Ujan Mas",
        "Gunung Megang", "Benakat", "Rambang", "Lubai", "Lubai Ulu", "Gelumbang", "Lembak",
        "Sungai Rotan", "Kelekar", "Muara Belida", "Semende Darat Laut", "Semende Darat Tengah",
        "Semende Darat Ulu", "Rambang Niru", "Empat Petulai Dangku", "Belimbing",
        "Panang Enim")),
    ("Kabupaten Lahat", ("Lahat", "Lahat Selatan", "Merapi Barat", "Merapi Timur",
        "Merapi Selatan", "Kikim Barat", "Kikim Timur", "Kikim Selatan", "Kikim Tengah",
        "Kota Agung", "Mulak Ulu", "Mulak Sebingkai", "Pulau Pinang", "Jarai", "Pajar Bulan",
        "Tanjung Sakti Pumi", "Tanjung Sakti Pumu", "Pseksu", "Gumay Talang", "Gumay Ulu",
        "Tanjung Tebat", "Muara Payang", "Sukamerindu", "Pagar Gunung")),
    ("Kabupaten Musi Banyuasin", ("Sekayu", "Lais", "Sungai Keruh", "Sungai Lilin",
        "Bayung Lencir", "Babat Toman", "Babat Supat", "Batanghari Leko", "Plakat Tinggi",
        "Lawang Wetan", "Sanga Desa", "Keluang", "Tungkal Jaya", "Lalan")),
    ("Kabupaten Musi Rawas", ("Muara Beliti", "Tugumulyo", "Purwodadi", "Muara Kelingi",
        "Muara Lakitan", "Megang Sakti", "Jayaloka", "Terawas", "Selangit", "Sumber Harta",
        "Tuah Negeri", "Sukakarya", "Bulang Tengah Suku Ulu", "Tiang Pumpung Kepungut")),
    ("Kabupaten Musi Rawas Utara", ("Rupit", "Rawas Ulu", "Rawas Ilir", "Nibung",
        "Karang Jaya", "Karang Dapo", "Ulu Rawas")),
    ("Kabupaten Ogan Komering Ulu", ("Baturaja Timur", "Baturaja Barat", "Peninjauan",
        "Lubuk Batang", "Sosoh Buay Rayap", "Pengandonan", "Semidang Aji", "Ulu Ogan",
        "Muara Jaya", "Lengkiti", "Sinar Peninjauan", "Kedaton Peninjauan Raya", "Lubuk Raja")),
    ("Kabupaten Ogan Komering Ulu Timur", ("Martapura", "Bunga Mayang", "Belitang",
        "Belitang II", "Belitang III", "Belitang Jaya", "Belitang Madang Raya",
        "Belitang Mulya", "Buay Madang", "Buay Madang Timur", "Cempaka", "Madang Suku I",
        "Madang Suku II", "Madang Suku III", "Semendawai Suku III", "Semendawai Barat",
        "Semendawai Timur", "Jayapura", "Buay Pemuka Peliung", "Buay Pemuka Bangsa Raja")),
    ("Kabupaten Ogan Komering Ulu Selatan", ("Muaradua", "Muaradua Kisam", "Kisam Tinggi",
        "Kisam Ilir", "Simpang", "Buay Sandang Aji", "Buay Runjung", "Buay Pemaca",
        "Buay Rawan", "Banding Agung", "Warkuk Ranau Selatan", "Buana Pemaca",
        "Pulau Beringin", "Sindang Danau", "Mekakau Ilir", "Runjung Agung", "Sungai Are",
        "Tiga Dihaji", "Buay Pematang Ribu Ranau Tengah")),
    ("Kabupaten Empat Lawang", ("Tebing Tinggi", "Talang Padang", "Pendopo", "Pendopo Barat",
        "Ulu Musi", "Lintang Kanan", "Muara Pinang", "Pasemah Air Keruh", "Saling",
        "Sikap Dalam")),
    ("Kabupaten Penukal Abab Lematang Ilir", ("Talang Ubi", "Tanah Abang", "Abab", "Penukal",
        "Penukal Utara")),
    ("Kota Prabumulih", ("Prabumulih Barat", "Prabumulih Timur", "Prabumulih Utara",
        "Prabumulih Selatan", "Cambai", "Rambang Kapak Tengah")),
    ("Kota Lubuklinggau", ("Lubuklinggau Barat I", "Lubuklinggau Barat II",
        "Lubuklinggau Timur I", "Lubuklinggau Timur II", "Lubuklinggau Utara I",
        "Lubuklinggau Utara II", "Lubuklinggau Selatan I", "Lubuklinggau Selatan II")),
    ("Kota Pagar Alam", ("Pagar Alam Utara", "Pagar Alam Selatan", "Dempo Utara",
        "Dempo Tengah", "Dempo Selatan")),
)  # fmt: skip

#: Sub-units of a kecamatan office outside Palembang: (id suffix, name, head position).
KECAMATAN_SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("UMPEG", "Subbagian Umum dan Kepegawaian", "KASUBBAG-UMPEG"),
    ("PK", "Subbagian Perencanaan dan Keuangan", "KASUBBAG-PK"),
    ("PEM", "Seksi Pemerintahan", "KASI-PEM"),
    ("TRANTIB", "Seksi Ketenteraman dan Ketertiban Umum", "KASI-TRANTIB"),
    ("KESOS", "Seksi Kesejahteraan Sosial", "KASI-KESOS"),
    ("PMD", "Seksi Pemberdayaan Masyarakat Desa", "KASI-PM"),
    ("PELUM", "Seksi Pelayanan Umum", "KASI-PELUM"),
)

# --- competencies ------------------------------------------------------------------------------

#: The eight managerial competencies of Permenpan RB 38/2017, one socio-cultural, and the
#: technical competencies of the job families found in a kecamatan.
COMPETENCIES: tuple[tuple[str, str, str], ...] = (
    ("M1", "Integritas", "manajerial"),
    ("M2", "Kerja Sama", "manajerial"),
    ("M3", "Komunikasi", "manajerial"),
    ("M4", "Orientasi pada Hasil", "manajerial"),
    ("M5", "Pelayanan Publik", "manajerial"),
    ("M6", "Pengembangan Diri dan Orang Lain", "manajerial"),
    ("M7", "Mengelola Perubahan", "manajerial"),
    ("M8", "Pengambilan Keputusan", "manajerial"),
    ("SK1", "Perekat Bangsa", "sosial_kultural"),
    ("T-ADM", "Administrasi Kependudukan", "teknis"),
    ("T-KEU", "Pengelolaan Keuangan Daerah", "teknis"),
    ("T-PBJ", "Pengadaan Barang/Jasa Pemerintah", "teknis"),
    ("T-PEL", "Pelayanan Administrasi Terpadu (PATEN)", "teknis"),
    ("T-TI", "Sistem Pemerintahan Berbasis Elektronik (SPBE)", "teknis"),
    ("T-SOS", "Kesejahteraan Sosial", "teknis"),
    ("T-PEM", "Pemerintahan Umum dan Ketenteraman/Ketertiban", "teknis"),
    ("T-ARS", "Kearsipan dan Tata Naskah Dinas", "teknis"),
    ("T-PER", "Perencanaan Pembangunan Daerah", "teknis"),
    ("T-SDM", "Manajemen ASN", "teknis"),
    ("T-PMD", "Pemberdayaan Masyarakat", "teknis"),
    ("T-KEB", "Analisis Kebijakan Publik", "teknis"),
)
MANAGERIAL_IDS = tuple(cid for cid, _, kind in COMPETENCIES if kind == "manajerial")
SOCIO_CULTURAL_IDS = tuple(cid for cid, _, kind in COMPETENCIES if kind == "sosial_kultural")
TECHNICAL_IDS = tuple(cid for cid, _, kind in COMPETENCIES if kind == "teknis")

#: Required managerial (and socio-cultural) level by position category. Our reading of the
#: annex of Permenpan RB 38/2017: JPT pratama 4, administrator 3, pengawas 2, pelaksana 1;
#: functional positions by jenjang (see `FUNCTIONAL_LEVEL`). JPT madya/utama would be 5,
#: but no JPT sits in a kecamatan, so the demo has none.
MANAGERIAL_LEVEL_BY_CATEGORY = {"jpt": 4, "administrator": 3, "pengawas": 2, "pelaksana": 1}
#: Required managerial level of a functional post by jenjang. NOT sourced: we found no public
#: text that fixes it (Permenpan RB 38/2017 leaves it to each functional post's standar
#: kompetensi). This is the demo's default, documented in docs/domain.md; the product itself
#: never uses it: it reads every required level from the dataset's position_requirements
#: table, which is where an agency sets its own.
FUNCTIONAL_LEVEL = {
    "Ahli Utama": 4,
    "Ahli Madya": 3,
    "Ahli Muda": 2,
    "Ahli Pertama": 1,
    "Terampil": 1,
    "Mahir": 1,
    "Penyelia": 1,
}

# --- positions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionDef:
    """One position: category, kelas jabatan, managerial level and technical requirements."""

    position_id: str
    title: str
    category: str
    grade: int
    managerial_level: int
    technical: tuple[tuple[str, int], ...]
    #: Lowest and highest golongan rank (1 = I/a .. 17 = IV/e) usual for the position.
    golongan_range: tuple[int, int]
    #: Education levels the position is filled from, with weights.
    education: tuple[tuple[str, float], ...]
    min_age: int = 20


_S1_S2 = (("S1", 0.6), ("S2", 0.4))
_S1_MOSTLY = (("S1", 0.75), ("D4", 0.1), ("S2", 0.15))
_PELAKSANA_EDU = (("SD", 0.02), ("SMP", 0.03), ("SMA", 0.4), ("D3", 0.2), ("S1", 0.35))
_TERAMPIL_EDU = (("D3", 0.85), ("D4", 0.15))
_AHLI_EDU = (("S1", 0.75), ("D4", 0.05), ("S2", 0.2))


def _fungsional(pid: str, name: str, jenjang: str, grade: int, tech: tuple, gol: tuple):
    edu = _TERAMPIL_EDU if jenjang in ("Terampil", "Mahir", "Penyelia") else _AHLI_EDU
    return PositionDef(
        pid, f"{name} {jenjang}", "fungsional", grade, FUNCTIONAL_LEVEL[jenjang], tech, gol, edu,
        min_age=22,
    )  # fmt: skip


def _pelaksana(pid: str, title: str, grade: int, tech: tuple) -> PositionDef:
    """A pelaksana position; pelaksana stop at III/d (rank 12) without a functional post."""
    return PositionDef(pid, title, "pelaksana", grade, 1, tech, (1, 12), _PELAKSANA_EDU)


#: Positions of a kecamatan office, a kelurahan and its sections. Kelas jabatan follow the
#: usual Pemda pattern (Camat 12, Sekcam 11, eselon IV 8-9, ahli pertama 8, ahli muda 9,
#: ahli madya 11, terampil 6, mahir 7); pelaksana titles keep the pre-2022 nomenclature that
#: many SIASN exports still show.
POSITIONS: tuple[PositionDef, ...] = (
    PositionDef("CAMAT", "Camat", "administrator", 12, 3,
                (("T-PEM", 4), ("T-PER", 3), ("T-KEU", 3)), (12, 15), _S1_S2, min_age=38),
    PositionDef("SEKCAM", "Sekretaris Camat", "administrator", 11, 3,
                (("T-KEU", 3), ("T-PER", 3), ("T-SDM", 3)), (11, 14), _S1_S2, min_age=36),
    PositionDef("KASUBBAG-UMPEG", "Kepala Subbagian Umum dan Kepegawaian", "pengawas", 9, 2,
                (("T-SDM", 3), ("T-ARS", 3)), (10, 13), _S1_MOSTLY, min_age=32),
    PositionDef("KASUBBAG-PK", "Kepala Subbagian Perencanaan dan Keuangan", "pengawas", 9, 2,
                (("T-KEU", 3), ("T-PER", 3)), (10, 13), _S1_MOSTLY, min_age=32),
    PositionDef("KASI-PEM", "Kepala Seksi Pemerintahan", "pengawas", 9, 2,
                (("T-PEM", 3), ("T-ADM", 3)), (10, 13), _S1_MOSTLY, min_age=32),
    PositionDef("KASI-TRANTIB", "Kepala Seksi Ketenteraman dan Ketertiban Umum", "pengawas",
                9, 2, (("T-PEM", 3),), (10, 13), _S1_MOSTLY, min_age=32),
    PositionDef("KASI-KESOS", "Kepala Seksi Kesejahteraan Sosial", "pengawas", 9, 2,
                (("T-SOS", 3),), (10, 13), _S1_MOSTLY, min_age=32),
    PositionDef("KASI-PM", "Kepala Seksi Pemberdayaan Masyarakat", "pengawas", 9, 2,
                (("T-PMD", 3), ("T-PER", 2)), (10, 13), _S1_MOSTLY, min_age=32),
    PositionDef("KASI-PELUM", "Kepala Seksi Pelayanan Umum", "pengawas", 9, 2,
                (("T-PEL", 3), ("T-TI", 2)), (10, 13), _S1_MOSTLY, min_age=32),
    PositionDef("LURAH", "Lurah", "pengawas", 9, 2,
                (("T-PEM", 3), ("T-PMD", 3), ("T-PEL", 3)), (10, 13), _S1_MOSTLY, min_age=32),
    PositionDef("SEKLUR", "Sekretaris Lurah", "pengawas", 8, 2,
                (("T-KEU", 2), ("T-ARS", 2)), (9, 12), _S1_MOSTLY, min_age=30),
    PositionDef("KASI-KEL-PEM", "Kepala Seksi Pemerintahan dan Ketenteraman Kelurahan",
                "pengawas", 8, 2, (("T-PEM", 3), ("T-ADM", 2)), (9, 12), _S1_MOSTLY, min_age=30),
    PositionDef("KASI-KEL-PMKS",
                "Kepala Seksi Pemberdayaan Masyarakat dan Kesejahteraan Sosial Kelurahan",
                "pengawas", 8, 2, (("T-PMD", 2), ("T-SOS", 3)), (9, 12), _S1_MOSTLY, min_age=30),
    _pelaksana("PLK-UMUM", "Pengadministrasi Umum", 5, (("T-ARS", 2),)),
    _pelaksana("PLK-KEPEND", "Pengadministrasi Kependudukan", 6, (("T-ADM", 2),)),
    _pelaksana("PLK-BENDAHARA", "Bendahara", 7, (("T-KEU", 3),)),
    _pelaksana("PLK-KEU", "Pengelola Keuangan", 7, (("T-KEU", 2), ("T-PER", 2))),
    _pelaksana("PLK-DATA", "Pengelola Data dan Sistem Informasi", 6, (("T-TI", 2),)),
    _pelaksana("PLK-PATEN", "Pengelola Pelayanan Terpadu Kecamatan", 6,
               (("T-PEL", 3), ("T-ADM", 2))),
    _pelaksana("PLK-KESOS", "Pengelola Kesejahteraan Sosial", 6, (("T-SOS", 2),)),
    _pelaksana("PLK-TRANTIB", "Pengelola Ketenteraman dan Ketertiban", 6, (("T-PEM", 2),)),
    _pelaksana("PLK-PMD", "Pengelola Pemberdayaan Masyarakat", 6, (("T-PMD", 2),)),
    _pelaksana("PLK-SDM", "Pengelola Kepegawaian", 6, (("T-SDM", 2), ("T-ARS", 2))),
    _pelaksana("PLK-PBJ", "Pengelola Barang Milik Daerah", 7, (("T-PBJ", 2), ("T-KEU", 2))),
    _fungsional("JF-AK-MADYA", "Analis Kebijakan", "Ahli Madya", 11, (("T-KEB", 4),), (13, 15)),
    _fungsional("JF-AK-MUDA", "Analis Kebijakan", "Ahli Muda", 9, (("T-KEB", 3),), (11, 12)),
    _fungsional("JF-AK-PERTAMA", "Analis Kebijakan", "Ahli Pertama", 8, (("T-KEB", 2),),
                (9, 10)),
    _fungsional("JF-ARS-TERAMPIL", "Arsiparis", "Terampil", 6, (("T-ARS", 3),), (7, 8)),
    _fungsional("JF-ARS-MAHIR", "Arsiparis", "Mahir", 7, (("T-ARS", 3),), (9, 10)),
    _fungsional("JF-ARS-PERTAMA", "Arsiparis", "Ahli Pertama", 8, (("T-ARS", 3),), (9, 10)),
    _fungsional("JF-PRAKOM-TERAMPIL", "Pranata Komputer", "Terampil", 6, (("T-TI", 3),),
                (7, 8)),
    _fungsional("JF-PRAKOM-PERTAMA", "Pranata Komputer", "Ahli Pertama", 8, (("T-TI", 3),),
                (9, 10)),
    _fungsional("JF-PPBJ-PERTAMA", "Pengelola Pengadaan Barang/Jasa", "Ahli Pertama", 8,
                (("T-PBJ", 3),), (9, 10)),
    _fungsional("JF-PPBJ-MUDA", "Pengelola Pengadaan Barang/Jasa", "Ahli Muda", 9,
                (("T-PBJ", 4),), (11, 12)),
    _fungsional("JF-AKPD-PERTAMA", "Analis Keuangan Pusat dan Daerah", "Ahli Pertama", 8,
                (("T-KEU", 3),), (9, 10)),
    _fungsional("JF-PENSOS-PERTAMA", "Penyuluh Sosial", "Ahli Pertama", 8, (("T-SOS", 3),),
                (9, 10)),
    _fungsional("JF-POLPP-TERAMPIL", "Polisi Pamong Praja", "Terampil", 6, (("T-PEM", 3),),
                (7, 8)),
    _fungsional("JF-POLPP-PERTAMA", "Polisi Pamong Praja", "Ahli Pertama", 8, (("T-PEM", 3),),
                (9, 10)),
    _fungsional("JF-PERENCANA-MUDA", "Perencana", "Ahli Muda", 9, (("T-PER", 4),), (11, 12)),
    _fungsional("JF-ASDM-PERTAMA", "Analis Sumber Daya Manusia Aparatur", "Ahli Pertama", 8,
                (("T-SDM", 3),), (9, 10)),
    _fungsional("JF-PSM-PERTAMA", "Penggerak Swadaya Masyarakat", "Ahli Pertama", 8,
                (("T-PMD", 3),), (9, 10)),
)  # fmt: skip
POSITION_BY_ID = {p.position_id: p for p in POSITIONS}

#: Structural slots filled first in each kind of unit; the first is the head of the unit.
STRUCTURAL_SLOTS = {
    "kecamatan": ("CAMAT", "SEKCAM", "KASUBBAG-UMPEG", "KASUBBAG-PK", "KASI-PEM",
                  "KASI-TRANTIB", "KASI-KESOS", "KASI-PM", "KASI-PELUM"),
    "kecamatan_with_sections": ("CAMAT", "SEKCAM"),
    "kelurahan": ("LURAH", "SEKLUR", "KASI-KEL-PEM", "KASI-KEL-PMKS"),
}  # fmt: skip

#: Who fills the remaining seats, by kind of unit: (position, weight).
STAFF_MIX = {
    "kecamatan": (
        ("PLK-UMUM", 10), ("PLK-KEPEND", 6), ("PLK-BENDAHARA", 2), ("PLK-KEU", 4),
        ("PLK-DATA", 4), ("PLK-PATEN", 8), ("PLK-KESOS", 4), ("PLK-TRANTIB", 5),
        ("PLK-PMD", 4), ("PLK-SDM", 4), ("PLK-PBJ", 2), ("JF-AK-MADYA", 0.3),
        ("JF-AK-MUDA", 1), ("JF-AK-PERTAMA", 2), ("JF-ARS-TERAMPIL", 2), ("JF-ARS-MAHIR", 1),
        ("JF-ARS-PERTAMA", 1), ("JF-PRAKOM-TERAMPIL", 2), ("JF-PRAKOM-PERTAMA", 1.5),
        ("JF-PPBJ-PERTAMA", 1), ("JF-PPBJ-MUDA", 0.5), ("JF-AKPD-PERTAMA", 1),
        ("JF-PENSOS-PERTAMA", 1), ("JF-POLPP-TERAMPIL", 3), ("JF-POLPP-PERTAMA", 1),
        ("JF-PERENCANA-MUDA", 0.7), ("JF-ASDM-PERTAMA", 1), ("JF-PSM-PERTAMA", 1),
    ),
    "kelurahan": (
        ("PLK-UMUM", 10), ("PLK-KEPEND", 10), ("PLK-KEU", 3), ("PLK-DATA", 3),
        ("PLK-PATEN", 5), ("PLK-KESOS", 6), ("PLK-TRANTIB", 6), ("PLK-PMD", 6),
        ("JF-ARS-TERAMPIL", 1), ("JF-PRAKOM-TERAMPIL", 1), ("JF-PENSOS-PERTAMA", 1),
        ("JF-POLPP-TERAMPIL", 3), ("JF-PSM-PERTAMA", 1.5),
    ),
}  # fmt: skip
STAFF_MIX["kecamatan_with_sections"] = STAFF_MIX["kecamatan"]

#: Staff of a section: mostly its own job family.
SECTION_STAFF = {
    "UMPEG": (("PLK-UMUM", 6), ("PLK-SDM", 5), ("JF-ARS-TERAMPIL", 2), ("JF-ARS-MAHIR", 1),
              ("JF-ARS-PERTAMA", 1), ("JF-ASDM-PERTAMA", 1.5), ("JF-PRAKOM-TERAMPIL", 1)),
    "PK": (("PLK-KEU", 6), ("PLK-BENDAHARA", 2), ("PLK-PBJ", 2), ("JF-AKPD-PERTAMA", 1.5),
           ("JF-PPBJ-PERTAMA", 1), ("JF-PPBJ-MUDA", 0.5), ("JF-PERENCANA-MUDA", 1)),
    "PEM": (("PLK-UMUM", 3), ("PLK-KEPEND", 6), ("JF-AK-PERTAMA", 1.5), ("JF-AK-MUDA", 1),
            ("JF-AK-MADYA", 0.3)),
    "TRANTIB": (("PLK-TRANTIB", 6), ("JF-POLPP-TERAMPIL", 5), ("JF-POLPP-PERTAMA", 1.5)),
    "KESOS": (("PLK-KESOS", 7), ("JF-PENSOS-PERTAMA", 2), ("PLK-UMUM", 2)),
    "PMD": (("PLK-PMD", 7), ("JF-PSM-PERTAMA", 2), ("PLK-UMUM", 2)),
    "PELUM": (("PLK-PATEN", 7), ("PLK-KEPEND", 3), ("PLK-DATA", 3), ("JF-PRAKOM-TERAMPIL", 1.5),
              ("JF-PRAKOM-PERTAMA", 1)),
}  # fmt: skip

# --- courses -----------------------------------------------------------------------------------

PROVIDERS = (
    "LAN RI",
    "BPSDM Provinsi Sumatera Selatan",
    "Universitas Sriwijaya",
    "UIN Raden Fatah Palembang",
    "Universitas Muhammadiyah Palembang",
    "Politeknik Negeri Sriwijaya",
    "BKPSDM Kota Palembang",
    "Kemendagri (BPSDM Kemendagri)",
)

#: Course themes by competency: the titles a BKPSDM catalogue would show.
COURSE_THEMES: dict[str, tuple[str, ...]] = {
    "M1": ("Penguatan Integritas dan Budaya Antikorupsi",
           "Pencegahan Gratifikasi dan Konflik Kepentingan",
           "Pembangunan Zona Integritas Menuju WBK/WBBM"),
    "M2": ("Kolaborasi dan Kerja Sama Tim Lintas Unit", "Membangun Tim Kerja yang Efektif"),
    "M3": ("Komunikasi Efektif dan Public Speaking", "Penulisan Naskah Dinas yang Efektif",
           "Komunikasi Publik dan Media Sosial Pemerintah"),
    "M4": ("Manajemen Kinerja dan SKP Berbasis Hasil", "Penyusunan Indikator Kinerja Individu"),
    "M5": ("Pelayanan Prima", "Standar Pelayanan dan Maklumat Pelayanan",
           "Pengelolaan Pengaduan Publik (SP4N-LAPOR!)"),
    "M6": ("Coaching dan Mentoring bagi Atasan", "Pengembangan Diri dan Rencana Karier ASN"),
    "M7": ("Manajemen Perubahan dan Reformasi Birokrasi", "Inovasi Pelayanan Publik"),
    "M8": ("Pengambilan Keputusan Berbasis Data", "Analisis Masalah dan Pengambilan Keputusan"),
    "SK1": ("Wawasan Kebangsaan dan Moderasi Beragama",
            "Pengelolaan Keberagaman dan Kohesi Sosial"),
    "T-ADM": ("Administrasi Kependudukan dan Pencatatan Sipil",
              "Pemutakhiran Data Kependudukan (SIAK Terpusat)"),
    "T-KEU": ("Pengelolaan Keuangan Daerah melalui SIPD",
              "Penatausahaan dan Pertanggungjawaban Bendahara",
              "Penyusunan Laporan Keuangan Perangkat Daerah"),
    "T-PBJ": ("Pengadaan Barang/Jasa Pemerintah", "Pengadaan Langsung dan E-Katalog"),
    "T-PEL": ("Pelayanan Administrasi Terpadu Kecamatan (PATEN)",
              "Layanan Publik Daring dan Mal Pelayanan Publik"),
    "T-TI": ("Sistem Pemerintahan Berbasis Elektronik (SPBE)",
             "Keamanan Informasi dan Pelindungan Data Pribadi",
             "Pengelolaan Data dan Satu Data Indonesia"),
    "T-SOS": ("Pemutakhiran DTKS dan Penyaluran Bantuan Sosial",
              "Penanganan Pemerlu Pelayanan Kesejahteraan Sosial"),
    "T-PEM": ("Penyelenggaraan Pemerintahan Kecamatan",
              "Ketenteraman, Ketertiban Umum dan Pelindungan Masyarakat",
              "Penanganan Konflik Sosial dan Kewaspadaan Dini"),
    "T-ARS": ("Pengelolaan Arsip Dinamis", "Tata Naskah Dinas Elektronik (SRIKANDI)"),
    "T-PER": ("Perencanaan Pembangunan Partisipatif (Musrenbang)",
              "Penyusunan Renja dan Renstra Perangkat Daerah"),
    "T-SDM": ("Manajemen ASN dan SIASN", "Penilaian Kinerja dan Pengembangan Karier ASN"),
    "T-PMD": ("Pemberdayaan Masyarakat dan Kelembagaan Kelurahan",
              "Pengelolaan Dana Kelurahan"),
    "T-KEB": ("Analisis Kebijakan Publik", "Penyusunan Policy Brief dan Telaahan Staf"),
}  # fmt: skip

#: A second competency a course on the first one often also trains.
RELATED_COMPETENCY = {
    "M1": "SK1", "M2": "M3", "M3": "M5", "M4": "M8", "M5": "T-PEL", "M6": "M2", "M7": "M4",
    "M8": "T-KEB", "SK1": "M2", "T-ADM": "T-TI", "T-KEU": "T-PER", "T-PBJ": "T-KEU",
    "T-PEL": "M5", "T-TI": "T-ARS", "T-SOS": "T-PMD", "T-PEM": "SK1", "T-ARS": "T-TI",
    "T-PER": "T-KEU", "T-SDM": "M6", "T-PMD": "T-SOS", "T-KEB": "M8",
}  # fmt: skip

#: Providers that plausibly run courses on each competency (first = most frequent).
PROVIDERS_BY_COMPETENCY = {
    "M": ("LAN RI", "BPSDM Provinsi Sumatera Selatan", "BKPSDM Kota Palembang",
          "Universitas Sriwijaya", "Universitas Muhammadiyah Palembang"),
    "SK1": ("BPSDM Provinsi Sumatera Selatan", "UIN Raden Fatah Palembang", "LAN RI",
            "Kemendagri (BPSDM Kemendagri)"),
    "T-ADM": ("Kemendagri (BPSDM Kemendagri)", "BKPSDM Kota Palembang"),
    "T-KEU": ("BPSDM Provinsi Sumatera Selatan", "Kemendagri (BPSDM Kemendagri)",
              "Universitas Sriwijaya"),
    "T-PBJ": ("BPSDM Provinsi Sumatera Selatan", "LAN RI", "Politeknik Negeri Sriwijaya"),
    "T-PEL": ("Kemendagri (BPSDM Kemendagri)", "BKPSDM Kota Palembang", "LAN RI"),
    "T-TI": ("Politeknik Negeri Sriwijaya", "Universitas Sriwijaya", "BKPSDM Kota Palembang"),
    "T-SOS": ("UIN Raden Fatah Palembang", "Universitas Muhammadiyah Palembang",
              "BPSDM Provinsi Sumatera Selatan"),
    "T-PEM": ("Kemendagri (BPSDM Kemendagri)", "BPSDM Provinsi Sumatera Selatan"),
    "T-ARS": ("BKPSDM Kota Palembang", "Politeknik Negeri Sriwijaya", "LAN RI"),
    "T-PER": ("Universitas Sriwijaya", "BPSDM Provinsi Sumatera Selatan", "LAN RI"),
    "T-SDM": ("BKPSDM Kota Palembang", "LAN RI", "BPSDM Provinsi Sumatera Selatan"),
    "T-PMD": ("Universitas Muhammadiyah Palembang", "Kemendagri (BPSDM Kemendagri)",
              "UIN Raden Fatah Palembang"),
    "T-KEB": ("LAN RI", "Universitas Sriwijaya"),
}  # fmt: skip

#: Title suffix and JP range (inclusive, even numbers) by learning mode.
MODE_LABEL = {
    c.COURSE_MODES[0]: ("Pelatihan", (16, 40)),  # klasikal
    c.COURSE_MODES[1]: ("E-Learning", (4, 20)),  # e_learning
    c.COURSE_MODES[2]: ("Pelatihan Blended", (16, 40)),  # blended
    c.COURSE_MODES[3]: ("Lokakarya", (8, 24)),  # workshop
    c.COURSE_MODES[4]: ("Seminar", (2, 8)),  # seminar
    c.COURSE_MODES[5]: ("Coaching", (8, 24)),  # coaching
    c.COURSE_MODES[6]: ("Mentoring", (8, 32)),  # mentoring
    c.COURSE_MODES[7]: ("Magang", (24, 40)),  # magang
}
TIER_LABEL = ("Tingkat Dasar", "Tingkat Menengah", "Tingkat Lanjut", "Tingkat Mahir")

# --- people ------------------------------------------------------------------------------------

MALE_NAMES = (
    "Ahmad", "Muhammad", "Rudi", "Hendra", "Agus", "Budi", "Dedi", "Fajar", "Hadi", "Iwan",
    "Joko", "Rizki", "Yusuf", "Andi", "Arief", "Bambang", "Darmawan", "Eko", "Ferry", "Heru",
    "Irfan", "Zulkifli", "Syahrial", "Hasan", "Firdaus", "Rahmat", "Taufik", "Wahyu", "Yudi",
    "Anton", "Deni", "Erwin", "Hermansyah", "Ilham", "Novri", "Rizal", "Saiful", "Teguh",
    "Umar", "Yoga", "Abdullah", "Alamsyah", "Fikri", "Gilang", "Haris",
)  # fmt: skip
FEMALE_NAMES = (
    "Siti", "Sri", "Dewi", "Rina", "Yuni", "Lestari", "Fitri", "Ratna", "Wulan", "Nurhayati",
    "Indah", "Maya", "Putri", "Dian", "Eka", "Ayu", "Novi", "Ratih", "Sari", "Yanti", "Desi",
    "Lina", "Rahmawati", "Aisyah", "Fatimah", "Herlina", "Imelda", "Juwita", "Kartika",
    "Mardiana", "Nurul", "Oktaviani", "Puspa", "Rosmala", "Susanti", "Tri", "Vera", "Winda",
    "Zahra", "Anggun",
)  # fmt: skip
MALE_SURNAMES = (
    "Saputra", "Pratama", "Wijaya", "Hidayat", "Setiawan", "Kurniawan", "Nugroho", "Santoso",
    "Syahputra", "Rahman", "Fauzi", "Hakim", "Maulana", "Ramadhan", "Firmansyah", "Gunawan",
    "Hamzah", "Iskandar", "Lubis", "Harahap", "Sembiring", "Effendi", "Yahya", "Zainal",
    "Suryadi", "Basri", "Cholil", "Apriansyah", "Juliansyah", "Febriansyah",
)  # fmt: skip
FEMALE_SURNAMES = (
    "Lestari", "Wati", "Sari", "Puspita", "Anggraini", "Handayani", "Rahayu", "Safitri",
    "Permata", "Novitasari", "Pertiwi", "Utami", "Wulandari", "Maharani", "Kusuma",
    "Febriani", "Agustina", "Yulianti", "Marlina", "Susilawati", "Oktarina", "Aprilia",
)  # fmt: skip
#: Palembang Malay honorifics (Kemas, Masagus, Kiagus, Raden / Nyimas, Nyayu, Masayu), in
#: their usual written abbreviations.
MALE_HONORIFICS = ("Kms.", "Mgs.", "Kgs.", "Rd.")
FEMALE_HONORIFICS = ("Nyimas", "Nyayu", "Msy.")
#: Academic degrees appended to names, by education.
DEGREES = {
    "D3": ("A.Md.", "A.Md.Kom.", "A.Md.Ak."),
    "D4": ("S.Tr.IP.", "S.ST.", "S.Tr.AP."),
    "S1": ("S.Sos.", "S.E.", "S.H.", "S.Kom.", "S.AP.", "S.STP.", "S.Pd.", "S.T.", "S.IP."),
    "S2": ("M.Si.", "M.M.", "M.AP.", "M.H.", "M.Pd."),
    "S3": ("Dr.",),
}
