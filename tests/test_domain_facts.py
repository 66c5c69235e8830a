"""The domain facts of docs/domain.md, pinned: rank caps, the 20 JP citation, 9-box follow-ups,
Palembang's kelurahan, names and Empat Lawang, the SKP labels, and that every fact has a source.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from demo_data import catalog as cat
from demo_data import generate_demo
from features import columns as c
from kompeten.cli import app
from model.reasons import TEMPLATES
from serving.pages.i18n import translate
from serving.pages.talent_box import ADVICE

ROOT = Path(__file__).resolve().parents[1]
DOMAIN_MD = ROOT / "docs" / "domain.md"

#: Highest golongan by kenaikan pangkat reguler (PP 99/2000 jo. PP 12/2002).
REGULAR_CAP = {"SD": "II/a", "SMP": "II/c", "SMA": "III/b", "D1": "III/b", "D2": "III/b",
               "D3": "III/c", "D4": "III/d", "S1": "III/d", "S2": "IV/a", "S3": "IV/b"}  # fmt: skip
WRONG_CITATION = re.compile(r"PP 17/2020,? \(?art(icle|\.)? ?203", re.IGNORECASE)


@pytest.fixture(scope="module")
def people():
    """Many pelaksana of every education, and functional posts up to Ahli Madya."""
    demo = generate_demo(3000, seed=5, years=1)
    emp = demo.tables[c.EMPLOYEES]
    category = demo.tables[c.POSITIONS].set_index(c.POSITION_ID)[c.CATEGORY]
    return emp.assign(
        rank=emp[c.GOLONGAN].map(c.GOLONGAN_RANK), category=emp[c.POSITION_ID].map(category)
    )


# --- 1. golongan caps -----------------------------------------------------------------------------


def test_pelaksana_stop_at_the_regular_promotion_cap_of_their_education(people):
    pelaksana = people[people["category"] == "pelaksana"]
    top = pelaksana.groupby(c.EDUCATION)["rank"].max()
    for education, rank in top.items():
        assert rank <= c.GOLONGAN_RANK[REGULAR_CAP[education]], education
    # the caps are reached, so the test is not vacuous
    assert top["S1"] == c.GOLONGAN_RANK["III/d"]
    assert top["SMA"] == c.GOLONGAN_RANK["III/b"]


def test_functional_and_structural_posts_are_not_bound_by_the_education_caps(people):
    graduates = people[people[c.EDUCATION].isin(["S1", "D4"])]
    top = graduates.groupby("category")["rank"].max()
    # beyond III/d, the S1/D4 cap of regular promotion, inside the post's own range
    assert top["fungsional"] > c.GOLONGAN_RANK["III/d"]
    assert top["administrator"] > c.GOLONGAN_RANK["IV/a"]
    madya = graduates[graduates[c.POSITION_ID] == "JF-AK-MADYA"]
    assert len(madya) > 0 and (madya["rank"] >= c.GOLONGAN_RANK["IV/a"]).all()
    low, high = cat.POSITION_BY_ID["JF-AK-MADYA"].golongan_range
    assert (low, high) == (c.GOLONGAN_RANK["IV/a"], c.GOLONGAN_RANK["IV/c"])


# --- 2. the 20 JP citation ------------------------------------------------------------------------


def test_footer_and_reasons_cite_pp_11_2017_pasal_203():
    footer_id = translate("footer_rules", "id")
    footer_en = translate("footer_rules", "en")
    assert "PP 11/2017 Pasal 203 ayat (4)" in footer_id and "PP 17/2020" in footer_id
    assert "PP 11/2017 art. 203(4), as amended by PP 17/2020" in footer_en
    for code in ("min_jp", "min_jp_general"):
        text_id, text_en = TEMPLATES[code]
        assert c.MIN_JP_RULE_ID in text_id and c.MIN_JP_RULE_EN in text_en


def test_no_page_help_or_doc_cites_pp_17_2020_art_203():
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    for folder in ("serving", "training_pipeline", "model", "features"):
        files += (ROOT / folder).rglob("*.py")
        files += (ROOT / folder).rglob("*.html")
    offending = [str(f) for f in files if WRONG_CITATION.search(f.read_text(encoding="utf-8"))]
    assert offending == []
    for command in ("train", "plan"):
        output = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
        help_text = re.sub(r"[│\s]+", " ", output)  # rich may still wrap inside its boxes
        assert "PP 11/2017 art. 203(4), as amended by PP 17/2020" in help_text, command
        assert not WRONG_CITATION.search(help_text)


# --- 3. 9-box follow-ups --------------------------------------------------------------------------


def test_box_8_and_box_7_follow_ups_are_the_regulations():
    box8, box7 = ADVICE[8].follow_up_id, ADVICE[7].follow_up_id
    for phrase in ("Dipertahankan", "talent pool", "rotasi/perluasan jabatan", "bimbingan kinerja"):
        assert phrase in box8, phrase
    for phrase in (
        "Dipertahankan",
        "rotasi/pengayaan jabatan",
        "pengembangan kompetensi",
        "tugas belajar",
    ):
        assert phrase in box7, phrase
    assert "enlargement" in ADVICE[8].follow_up_en and "enrichment" in ADVICE[7].follow_up_en
    assert ADVICE[1].follow_up_id == "Diproses sesuai ketentuan peraturan perundang-undangan."


# --- 4. Palembang ---------------------------------------------------------------------------------


def test_palembang_has_18_kecamatan_and_107_distinct_kelurahan():
    kecamatan = dict(cat.PALEMBANG_KECAMATAN)
    assert len(kecamatan) == 18
    kelurahan = [k for names in kecamatan.values() for k in names]
    assert len(kelurahan) == 107 and len(set(kelurahan)) == 107


def test_the_2016_split_of_seberang_ulu_i_and_ilir_timur_ii():
    kecamatan = {name: set(kel) for name, kel in cat.PALEMBANG_KECAMATAN}
    assert kecamatan["Jakabaring"] == {"8 Ulu", "9/10 Ulu", "15 Ulu", "Silaberanti", "Tuan Kentang"}
    assert kecamatan["Seberang Ulu I"] == {"1 Ulu", "2 Ulu", "3-4 Ulu", "5 Ulu", "7 Ulu"}
    assert kecamatan["Ilir Timur II"] == {
        "1 Ilir", "2 Ilir", "3 Ilir", "5 Ilir", "Lawang Kidul", "Sei Buah",
    }  # fmt: skip
    assert kecamatan["Ilir Timur III"] == {
        "8 Ilir", "9 Ilir", "10 Ilir", "11 Ilir", "Kuto Batu", "Duku",
    }  # fmt: skip
    assert kecamatan["Kertapati"] == {
        "Karya Jaya", "Kemang Agung", "Kemas Rindo", "Keramasan", "Kertapati", "Ogan Baru",
    }  # fmt: skip
    assert "2016" in (cat.__doc__ or "")


# --- 5. names, Empat Lawang, SKP label ------------------------------------------------------------


def test_kiagus_is_abbreviated_kgs(people):
    assert "Kgs." in cat.MALE_HONORIFICS and "Ki." not in cat.MALE_HONORIFICS
    names = people[c.NAME]
    assert names.str.startswith("Kgs. ").any()
    assert not names.str.startswith("Ki. ").any()


def test_empat_lawang_has_sikap_dalam_and_paiker_is_pasemah_air_keruh():
    kecamatan = dict(cat.SUMSEL_REGIONS)["Kabupaten Empat Lawang"]
    assert len(kecamatan) == len(set(kecamatan)) == 10
    assert "Sikap Dalam" in kecamatan and "Pasemah Air Keruh" in kecamatan
    assert "Paiker" not in kecamatan


def test_skp_rating_labels_are_the_regulations():
    assert set(c.RATING_LABELS) == set(c.RATING_VALUES)
    assert c.RATING_LABELS["kurang"] == "Kurang/Misconduct"
    assert c.RATING_LABELS["butuh_perbaikan"] == "Butuh Perbaikan"


# --- 6. functional levels and the document itself -------------------------------------------------


def test_functional_levels_are_a_documented_default_carried_by_the_data():
    demo = generate_demo(200, seed=1, years=1)
    req = demo.tables[c.POSITION_REQUIREMENTS]
    integritas = req[req[c.COMPETENCY_ID] == "M1"].set_index(c.POSITION_ID)[c.REQUIRED_LEVEL]
    for pos in cat.POSITIONS:
        if pos.category == "fungsional":
            level = next(v for k, v in cat.FUNCTIONAL_LEVEL.items() if pos.title.endswith(k))
            assert integritas[pos.position_id] == level, pos.position_id
    text = DOMAIN_MD.read_text(encoding="utf-8")
    assert "not sourced: a documented default" in text and "position_requirements.csv" in text


def test_every_fact_in_domain_md_names_its_source():
    rows = 0
    header: list[str] = []
    for line in DOMAIN_MD.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = []
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not header:
            header = cells
            continue
        if set(line) <= set("|- "):
            continue
        if "source" in header:
            source = cells[header.index("source")]
            assert source and source != "—", line
            rows += 1
    assert rows >= 25
