"""Realistic demo dataset (Kecamatan Kertapati, Kota Palembang) with a hidden ground truth.

`generate_demo` draws an organisation, its employees and a few years of history from a
hidden response model (`demo_truth`): per-course true effects that differ from popularity,
persistent person traits that drive drop-out by learning mode, mentor quality, and latent
competency levels that grow with completed courses and mentoring. Assessments are noisy
measurements of those latent levels. `write_demo` writes the dataset in the contract form
and the truth to a separate folder that models never read, so an evaluator can score
recommendations against what would really happen.

Everything is vectorised over people (loops run over quarters, units or catalogue entries
only), so 100,000 employees generate in seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from time import perf_counter

import numpy as np
import pandas as pd
import pyarrow as pa

from features import columns as c
from features.dataset_writer import write_dataset, write_frames
from training_pipeline import demo_catalog as cat
from training_pipeline import demo_truth as dt
from training_pipeline.demo_truth import expected_gap_closure, expected_outcomes, load_truth

__all__ = [
    "DEFAULT_COURSES",
    "DEFAULT_UNTIL",
    "DemoDataset",
    "expected_gap_closure",
    "expected_outcomes",
    "generate_demo",
    "load_truth",
    "write_demo",
]

DEFAULT_UNTIL = date(2026, 9, 30)
DEFAULT_COURSES = 150
Progress = Callable[[str, float], None]

#: Units are filled until each holds about this many staff; beyond the place names we know
#: (about 1,900 staffed units) units simply grow.
TARGET_UNIT_STAFF = 60
INACTIVE_SHARE = 0.03
INACTIVE_COURSE_SHARE = 0.10
#: Expected enrollments per person per quarter (scaled by engagement).
ENROLL_RATE = 0.65
ASSESS_RATE = 0.14  # assessment events per person per quarter
MENTEE_RATE = 0.2  # new mentees per person per quarter
MENTOR_NEW_PER_QUARTER = 4
#: Share of mentorships with a baseline assessment of the focus at the start, and with a
#: post-mentorship assessment after the end (the evaluation a mentoring programme runs).
MENTORING_BASELINE_SHARE = 0.9
MENTORING_POST_SHARE = 0.9
PREREQ_WAIVED = 0.15  # share of enrollments let in without the prerequisite completed
ON_THE_JOB_GAIN = 0.008  # latent level gained per quarter on required competencies

_NAT = np.iinfo(np.int64).min


@dataclass
class DemoDataset:
    """Typed contract tables plus the hidden truth they were drawn from."""

    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    seed: int
    until: date


def generate_demo(
    n_employees: int = 400,
    seed: int = 42,
    years: int = 4,
    until: date = DEFAULT_UNTIL,
    progress: Progress | None = None,
    n_courses: int = DEFAULT_COURSES,
) -> DemoDataset:
    """Draw a complete demo dataset; the same arguments always give the same data."""
    if n_employees < 1:
        raise ValueError("n_employees must be at least 1")
    if years < 1:
        raise ValueError("years must be at least 1")
    if n_courses < 10:
        raise ValueError("n_courses must be at least 10")
    report = progress or (lambda step, fraction: None)
    until = pd.Timestamp(until).date()
    rng = np.random.default_rng(seed)

    report("organisation", 0.0)
    org = _build_units(n_employees)
    competencies, positions, requirements, req_by_position = _reference_tables()
    report("employees", 0.05)
    people = _draw_people(rng, n_employees, org, until)
    traits = _draw_traits(rng, n_employees)
    mentoring_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    traits.update(dt.draw_mentor_traits(mentoring_rng, n_employees))
    traits["mentoring_rng"] = mentoring_rng
    report("catalog", 0.15)
    catalog = _draw_catalog(rng, n_courses)
    report("history", 0.2)
    history = _simulate_history(rng, people, traits, catalog, req_by_position, years, until, report)
    report("tables", 0.85)
    nip = pa.array(people["nip"], type=pa.string())
    tables = {
        c.UNITS: org["frame"],
        c.COMPETENCIES: competencies,
        c.POSITIONS: positions,
        c.POSITION_REQUIREMENTS: requirements,
        c.EMPLOYEES: _employee_frame(people, org),
        **_history_frames(history, nip, catalog),
        c.COURSES: catalog["courses"],
        c.COURSE_COMPETENCIES: catalog["course_competencies"],
        c.COURSE_PREREQUISITES: catalog["prerequisites"],
    }
    tables = {name: tables[name] for name in c.ALL_TABLES}
    truth = _truth_frames(nip, traits, catalog, history["levels"])
    report("done", 1.0)
    return DemoDataset(tables=tables, truth=truth, seed=seed, until=until)


def write_demo(
    out_dir: str | Path,
    n_employees: int = 400,
    seed: int = 42,
    years: int = 4,
    truth_dir: str | Path | None = None,
    fmt: str = "csv",
    *,
    until: date = DEFAULT_UNTIL,
    n_courses: int = DEFAULT_COURSES,
    progress: Progress | None = None,
) -> dict:
    """Generate and write a demo dataset; the truth goes beside it (`<out_dir>-truth`).

    Refuses a truth folder inside the dataset folder (or the reverse): a model reading the
    dataset must never see the truth. Returns a summary: folders, row counts, timings.
    """
    out = Path(out_dir).resolve()
    truth = Path(truth_dir).resolve() if truth_dir else out.parent / f"{out.name}-truth"
    if truth == out or out in truth.parents or truth in out.parents:
        raise ValueError(f"truth folder {truth} must not be inside or around {out}")
    report = progress or (lambda step, fraction: None)
    start = perf_counter()
    demo = generate_demo(
        n_employees, seed, years, until, lambda step, f: report(step, 0.8 * f), n_courses
    )
    generated = perf_counter()
    report("write dataset", 0.8)
    files = write_dataset(demo.tables, out, fmt)
    report("write truth", 0.95)
    truth_files = write_frames(demo.truth, truth, fmt)
    params = {
        "seed": seed,
        "n_employees": n_employees,
        "years": years,
        "until": demo.until.isoformat(),
        "n_courses": n_courses,
        "dataset_dir": str(out),
    }
    (truth / "manifest.json").write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
    done = perf_counter()
    summary = {
        **params,
        "format": fmt,
        "truth_dir": str(truth),
        "rows": {name: len(frame) for name, frame in demo.tables.items()},
        "truth_rows": {name: len(frame) for name, frame in demo.truth.items()},
        "files": {name: str(path) for name, path in files.items()},
        "truth_files": {name: str(path) for name, path in truth_files.items()},
        "generate_seconds": round(generated - start, 3),
        "write_seconds": round(done - generated, 3),
    }
    report("done", 1.0)
    return summary


# --- reference tables ----------------------------------------------------------------------------

_COMP_IDS = [cid for cid, _, _ in cat.COMPETENCIES]
_COMP_INDEX = {cid: i for i, cid in enumerate(_COMP_IDS)}
_POS_IDS = [p.position_id for p in cat.POSITIONS]
_POS_INDEX = {pid: i for i, pid in enumerate(_POS_IDS)}
_MODE_INDEX = {m: i for i, m in enumerate(c.COURSE_MODES)}
_EDU_INDEX = {e: i for i, e in enumerate(c.EDUCATION_VALUES)}


def _reference_tables():
    competencies = pd.DataFrame(
        {
            c.COMPETENCY_ID: pd.Series(_COMP_IDS, dtype="str"),
            c.NAME: pd.Series([name for _, name, _ in cat.COMPETENCIES], dtype="str"),
            c.KIND: pd.Series([kind for _, _, kind in cat.COMPETENCIES], dtype="str"),
        }
    )
    positions = pd.DataFrame(
        {
            c.POSITION_ID: pd.Series(_POS_IDS, dtype="str"),
            c.TITLE: pd.Series([p.title for p in cat.POSITIONS], dtype="str"),
            c.CATEGORY: pd.Series([p.category for p in cat.POSITIONS], dtype="str"),
            c.GRADE: np.array([p.grade for p in cat.POSITIONS], dtype=np.int64),
        }
    )
    req = np.zeros((len(cat.POSITIONS), len(_COMP_IDS)), dtype=np.int64)
    for i, pos in enumerate(cat.POSITIONS):
        for cid in cat.MANAGERIAL_IDS + cat.SOCIO_CULTURAL_IDS:
            req[i, _COMP_INDEX[cid]] = pos.managerial_level
        for cid, level in pos.technical:
            req[i, _COMP_INDEX[cid]] = level
    rows, cols = np.nonzero(req)
    requirements = pd.DataFrame(
        {
            c.POSITION_ID: pd.Series(np.array(_POS_IDS)[rows], dtype="str"),
            c.COMPETENCY_ID: pd.Series(np.array(_COMP_IDS)[cols], dtype="str"),
            c.REQUIRED_LEVEL: req[rows, cols],
        }
    )
    return competencies, positions, requirements, req.astype(float)


# --- organisation --------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "-", text.upper()).strip("-")


def _region_code(region: str) -> str:
    return _slug(re.sub(r"^(Kabupaten|Kota) ", "", region))


def _blocks():
    """Kecamatan in fill order: (root id, root name, [(id, name, kind, section key, parent)])."""
    for kecamatan, kelurahan in cat.PALEMBANG_KECAMATAN:
        kec_id = f"KEC-{_slug(kecamatan)}"
        units = [(kec_id, f"Kecamatan {kecamatan}", "kecamatan", "", None)]
        for kel in kelurahan:
            units.append(
                (
                    f"KEL-{_slug(kecamatan)}-{_slug(kel)}",
                    f"Kelurahan {kel}",
                    "kelurahan",
                    "",
                    kec_id,
                )
            )
        yield "PEMKOT-PALEMBANG", "Pemerintah Kota Palembang", units
    for region, kecamatan_names in cat.SUMSEL_REGIONS:
        code = _region_code(region)
        root = ("PEMKOT-" if region.startswith("Kota") else "PEMKAB-") + code
        for kecamatan in kecamatan_names:
            kec_id = f"KEC-{code}-{_slug(kecamatan)}"
            units = [(kec_id, f"Kecamatan {kecamatan}", "kecamatan_with_sections", "", None)]
            for key, name, _head in cat.KECAMATAN_SECTIONS:
                units.append(
                    (f"{kec_id}-{key}", f"{name} Kecamatan {kecamatan}", "section", key, kec_id)
                )
            yield root, f"Pemerintah {region}", units


_UNIT_WEIGHT = {"kecamatan": 1.6, "kelurahan": 1.0, "kecamatan_with_sections": 0.7, "section": 0.8}


def _build_units(n_employees: int) -> dict:
    """Units table plus per-unit arrays: staffing weight, structural slots, staff mix, block."""
    ids: list[str] = []
    names: list[str] = []
    parents: list[str | None] = []
    kinds: list[str] = []
    keys: list[str] = []  # section key, "" for other units
    blocks: list[int] = []
    roots: set[str] = set()
    staffed = 0
    for block, (root_id, root_name, units) in enumerate(_blocks()):
        if staffed and staffed * TARGET_UNIT_STAFF >= n_employees:
            break
        if root_id not in roots:
            roots.add(root_id)
            ids.append(root_id)
            names.append(root_name)
            parents.append(None)
            kinds.append("root")
            keys.append("")
            blocks.append(-1)
        for unit_id, name, kind, key, parent in units:
            ids.append(unit_id)
            names.append(name)
            parents.append(parent or root_id)
            kinds.append(kind)
            keys.append(key)
            blocks.append(block)
            staffed += 1

    mix_keys = ["kecamatan", "kelurahan", *[key for key, _, _ in cat.KECAMATAN_SECTIONS]]
    mix_cum = np.zeros((len(mix_keys), len(_POS_IDS)))
    for row, key in enumerate(mix_keys):
        mix = cat.STAFF_MIX.get(key) or cat.SECTION_STAFF[key]
        for pid, share in mix:
            mix_cum[row, _POS_INDEX[pid]] = share
    mix_cum = _cumulative(mix_cum)
    section_head = {key: head for key, _, head in cat.KECAMATAN_SECTIONS}

    n_units = len(ids)
    weight = np.array([_UNIT_WEIGHT.get(kind, 0.0) for kind in kinds])
    slots = np.full((n_units, 9), -1, dtype=np.int64)
    n_slots = np.zeros(n_units, dtype=np.int64)
    mix_row = np.zeros(n_units, dtype=np.int64)
    for u, (kind, key) in enumerate(zip(kinds, keys, strict=True)):
        if kind == "root":
            continue
        struct = (section_head[key],) if kind == "section" else cat.STRUCTURAL_SLOTS[kind]
        slots[u, : len(struct)] = [_POS_INDEX[pid] for pid in struct]
        n_slots[u] = len(struct)
        mix_key = (
            key if kind == "section" else ("kelurahan" if kind == "kelurahan" else "kecamatan")
        )
        mix_row[u] = mix_keys.index(mix_key)

    index = {uid: i for i, uid in enumerate(ids)}
    parent_idx = np.array([index[p] if p else -1 for p in parents], dtype=np.int64)
    frame = pd.DataFrame(
        {
            c.UNIT_ID: pd.Series(ids, dtype="str"),
            c.NAME: pd.Series(names, dtype="str"),
            c.PARENT_UNIT_ID: pd.Series(parents, dtype="str"),
        }
    )
    return {
        "frame": frame,
        "ids": np.array(ids, dtype=object),
        "weight": weight,
        "slots": slots,
        "n_slots": n_slots,
        "mix_row": mix_row,
        "mix_cum": mix_cum,
        "parent": parent_idx,
        "block": np.array(blocks, dtype=np.int64),
    }


# --- people --------------------------------------------------------------------------------------

#: Golongan rank at entry and highest rank reachable by regular promotion, by education.
#: The caps are those of kenaikan pangkat reguler (PP 99/2000 jo. PP 12/2002, as tabulated by
#: BKN; docs/domain.md): SD II/a, SMP II/c, SMA/D1/D2 III/b, D3 III/c, D4/S1 III/d, S2 IV/a,
#: S3 IV/b. They bind pelaksana only: structural and functional posts are promoted by
#: kenaikan pangkat pilihan up to their own range (an Ahli Madya reaches IV/c).
_START_RANK = {"SD": 1, "SMP": 3, "SMA": 5, "D1": 5, "D2": 6, "D3": 7, "D4": 9, "S1": 9,
               "S2": 10, "S3": 11}  # fmt: skip
_RANK_CAP = {"SD": 5, "SMP": 7, "SMA": 10, "D1": 10, "D2": 10, "D3": 11, "D4": 12, "S1": 12,
             "S2": 13, "S3": 14}  # fmt: skip
_ENTRY_AGE = {"SD": 19, "SMP": 19, "SMA": 19, "D1": 20, "D2": 20, "D3": 21, "D4": 23, "S1": 23,
              "S2": 25, "S3": 28}  # fmt: skip
_MIN_AGE_EDU = {"S2": 26, "S3": 30, "S1": 23, "D4": 23, "D3": 21}
_FEMALE_SHARE = {
    "CAMAT": 0.25, "SEKCAM": 0.35, "LURAH": 0.35, "KASI-TRANTIB": 0.2, "PLK-TRANTIB": 0.2,
    "JF-POLPP-TERAMPIL": 0.15, "JF-POLPP-PERTAMA": 0.2,
}  # fmt: skip
_AGE_SHAPE = {"administrator": (2.5, 1.5), "pengawas": (2.0, 1.6), "jpt": (3.0, 1.5)}


def _draw_people(rng: np.random.Generator, n: int, org: dict, until: date) -> dict:
    counts = _allocate(n, org["weight"])
    unit = np.repeat(np.arange(len(counts)), counts)
    rank = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    n_slots = org["n_slots"][unit]
    structural = rank < n_slots
    slot = org["slots"][unit, np.minimum(rank, org["slots"].shape[1] - 1)]
    sampled = _choose_rows(rng, org["mix_cum"], org["mix_row"][unit])
    position = np.where(structural, slot, sampled)

    pos_defs = cat.POSITIONS
    female_share = np.array([_FEMALE_SHARE.get(p.position_id, 0.48) for p in pos_defs])
    female = rng.random(n) < female_share[position]

    edu_cum = np.zeros((len(pos_defs), len(c.EDUCATION_VALUES)))
    for i, p in enumerate(pos_defs):
        for edu, w in p.education:
            edu_cum[i, _EDU_INDEX[edu]] = w
    education = _choose_rows(rng, _cumulative(edu_cum), position)
    edu_names = np.array(c.EDUCATION_VALUES, dtype=object)
    edu_of = edu_names[education]

    def per_edu(table: dict, default: float) -> np.ndarray:
        return np.array([table.get(e, default) for e in c.EDUCATION_VALUES], dtype=float)[education]

    min_age = np.maximum(
        np.array([p.min_age for p in pos_defs])[position], per_edu(_MIN_AGE_EDU, 20)
    )
    shape = np.array([_AGE_SHAPE.get(p.category, (1.6, 1.6)) for p in pos_defs])[position]
    age = min_age + (57.99 - min_age) * rng.beta(shape[:, 0], shape[:, 1])

    start_rank = per_edu(_START_RANK, 5)
    gol_lo = np.array([p.golongan_range[0] for p in pos_defs])[position]
    gol_hi = np.array([p.golongan_range[1] for p in pos_defs])[position]
    min_service = np.clip((gol_lo - start_rank) * 4 - 2, 0, None)
    hire_lo = per_edu(_ENTRY_AGE, 19)
    hire_hi = np.minimum(35.0, age - min_service)
    hire_lo = np.minimum(hire_lo, hire_hi)
    hire_age = np.clip(hire_lo + (hire_hi - hire_lo) * rng.random(n) ** 1.5, 18.0, age)

    until_day = _day(until)
    birth = until_day - np.floor(age * 365.25).astype(np.int64)
    tmt = _month_start(birth + np.floor(hire_age * 365.25).astype(np.int64))
    tmt = np.minimum(tmt, _month_start(np.array([until_day]))[0])
    tmt = np.maximum(tmt, _month_start(birth + int(18 * 365.25) + 31))
    service = (until_day - tmt) / 365.25
    steps = np.floor(np.clip(service - 2.0 * rng.random(n), 0, None) / 4.0)
    regular = np.array([p.category == "pelaksana" for p in pos_defs])[position]
    gol_rank = np.where(
        regular, np.minimum(start_rank + steps, per_edu(_RANK_CAP, 10)), start_rank + steps
    )
    gol_rank = np.clip(np.clip(gol_rank, gol_lo, gol_hi), 1, 17).astype(np.int64)

    nip_number = _nip_numbers(birth, tmt, female)

    active = np.ones(n, dtype=bool)
    left_day = np.full(n, np.iinfo(np.int64).max // 4, dtype=np.int64)
    candidates = np.flatnonzero(~structural & (tmt < until_day - 400))
    k = min(len(candidates), int(round(INACTIVE_SHARE * n)))
    if k:
        leaving = rng.choice(candidates, size=k, replace=False)
        active[leaving] = False
        lo = np.maximum(tmt[leaving] + 120, until_day - 3 * 365)
        left_day[leaving] = lo + np.floor(rng.random(k) * (until_day - lo)).astype(np.int64)

    head = np.full(len(counts), -1, dtype=np.int64)
    has_staff = counts > 0
    head[has_staff] = (np.cumsum(counts) - counts)[has_staff]
    parent_head = np.full(len(counts), -1, dtype=np.int64)
    for u in range(len(counts)):  # per unit, not per employee
        p = org["parent"][u]
        while p >= 0 and head[p] < 0:
            p = org["parent"][p]
        parent_head[u] = head[p] if p >= 0 else -1
    supervisor = np.where(rank == 0, parent_head[unit], head[unit])

    return {
        "n": n,
        "unit": unit,
        "block": org["block"][unit],
        "position": position,
        "female": female,
        "education": edu_of,
        "birth": birth,
        "tmt": tmt,
        "gol_rank": gol_rank,
        "nip": nip_number.astype(str).astype(object),
        "name": _draw_names(rng, female, edu_of),
        "supervisor": supervisor,
        "active": active,
        "left_day": left_day,
        "service": service,
    }


def _nip_numbers(birth: np.ndarray, tmt: np.ndarray, female: np.ndarray) -> np.ndarray:
    """18-digit NIPs as int64: YYYYMMDD birth, YYYYMM TMT CPNS, gender digit, sequence."""
    b = pd.DatetimeIndex(birth.astype("datetime64[D]"))
    t = pd.DatetimeIndex(tmt.astype("datetime64[D]"))
    prefix = (
        (b.year.to_numpy() * 10_000 + b.month.to_numpy() * 100 + b.day.to_numpy()).astype(np.int64)
        * 10_000_000
        + (t.year.to_numpy() * 100 + t.month.to_numpy()).astype(np.int64) * 10
        + np.where(female, 2, 1)
    )
    order = np.argsort(prefix, kind="stable")
    sorted_prefix = prefix[order]
    first = np.r_[True, sorted_prefix[1:] != sorted_prefix[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    seq = np.empty(len(order), dtype=np.int64)
    seq[order] = np.arange(len(order)) - group_start + 1
    if seq.max(initial=0) > 999:
        raise ValueError("more than 999 employees share a NIP prefix")
    return prefix * 1000 + seq


def _draw_names(rng, female: np.ndarray, education: np.ndarray) -> np.ndarray:
    """Names as SIASN exports show them: honorific, given name, surname, degrees."""
    n = len(female)

    def pick(male_options, female_options):
        m = np.array(male_options, dtype=object)[rng.integers(0, len(male_options), n)]
        f = np.array(female_options, dtype=object)[rng.integers(0, len(female_options), n)]
        return np.where(female, f, m)

    first = pick(cat.MALE_NAMES, cat.FEMALE_NAMES)
    surname = pick(cat.MALE_SURNAMES, cat.FEMALE_SURNAMES)
    honorific = pick(cat.MALE_HONORIFICS, cat.FEMALE_HONORIFICS)
    name = pd.Series(first, dtype="str")
    with_surname = rng.random(n) < 0.8
    name = name.where(~with_surname, name + " " + pd.Series(surname, dtype="str"))
    honored = rng.random(n) < 0.08
    name = name.where(~honored, pd.Series(honorific, dtype="str") + " " + name)
    degree = np.full(n, "", dtype=object)
    for edu in ("D3", "D4", "S1"):
        rows = np.flatnonzero(education == edu)
        options = np.array(cat.DEGREES[edu], dtype=object)
        degree[rows] = ", " + options[rng.integers(0, len(options), len(rows))]
    for edu in ("S2", "S3"):
        rows = np.flatnonzero(education == edu)
        s1 = np.array(cat.DEGREES["S1"], dtype=object)[rng.integers(0, 9, len(rows))]
        s2 = np.array(cat.DEGREES["S2"], dtype=object)[rng.integers(0, 5, len(rows))]
        degree[rows] = ", " + s1 + ", " + s2
    shown = rng.random(n) < 0.85
    name = name + pd.Series(np.where(shown, degree, ""), dtype="str")
    doctor = (education == "S3") & shown
    return name.where(~doctor, "Dr. " + name).to_numpy(dtype=object)


def _draw_traits(rng: np.random.Generator, n: int) -> dict:
    engagement = rng.standard_normal(n)
    preference = -0.4 * engagement + np.sqrt(1 - 0.16) * rng.standard_normal(n)
    loading = np.array([dt.MODE_FORMAT_LOADING[m] for m in c.COURSE_MODES])
    affinity = preference[:, None] * loading[None, :] + 0.25 * rng.standard_normal(
        (n, len(loading))
    )
    ability = 0.3 * engagement + np.sqrt(1 - 0.09) * rng.standard_normal(n)
    return {
        "engagement": engagement,
        "preference": preference,
        "affinity": affinity,
        "learning_rate": rng.lognormal(0.0, 0.25, n),
        "ability": ability,
        "mentor_quality": rng.beta(2.0, 2.0, n),
    }


# --- catalogue -----------------------------------------------------------------------------------

_MODE_WEIGHT = {"klasikal": 0.22, "e_learning": 0.2, "blended": 0.1, "workshop": 0.12,
                "seminar": 0.14, "coaching": 0.08, "mentoring": 0.07, "magang": 0.07}  # fmt: skip
#: Typical true gain (levels) of a course by mode, and how often people pick the mode:
#: the popular modes (seminar, e-learning) are the weakest, the rare ones the strongest.
_MODE_EFFECT = {"klasikal": 0.32, "e_learning": 0.18, "blended": 0.38, "workshop": 0.28,
                "seminar": 0.1, "coaching": 0.5, "mentoring": 0.45, "magang": 0.55}  # fmt: skip
_MODE_POPULARITY = {"klasikal": 1.0, "e_learning": 1.7, "blended": 0.7, "workshop": 1.0,
                    "seminar": 2.0, "coaching": 0.35, "mentoring": 0.35, "magang": 0.3}  # fmt: skip
_PROVIDER_PRESTIGE = {"LAN RI": 1.6, "BPSDM Provinsi Sumatera Selatan": 1.3,
                      "Kemendagri (BPSDM Kemendagri)": 1.3}  # fmt: skip
_MIN_LEVEL_WEIGHT = (0.35, 0.35, 0.22, 0.08)


def _draw_catalog(rng: np.random.Generator, n_courses: int) -> dict:
    """Courses, their competency bands and prerequisites, and the hidden effect of each."""
    comp_weight = np.array(
        [
            1.1 if kind == "teknis" else (0.8 if kind == "sosial_kultural" else 1.0)
            for _, _, kind in cat.COMPETENCIES
        ]
    )
    primary = rng.choice(len(_COMP_IDS), size=n_courses, p=comp_weight / comp_weight.sum())
    min_level = 1 + rng.choice(4, size=n_courses, p=_MIN_LEVEL_WEIGHT)
    target = np.minimum(5, min_level + np.where(rng.random(n_courses) < 0.7, 1, 2))
    modes = np.array(c.COURSE_MODES)
    mode_p = np.array([_MODE_WEIGHT[m] for m in c.COURSE_MODES])
    mode = modes[rng.choice(len(modes), size=n_courses, p=mode_p / mode_p.sum())]
    has_second = rng.random(n_courses) < 0.35

    titles, providers, hours = [], [], []
    seen: dict[tuple[str, str], int] = {}
    for i in range(n_courses):  # catalogue entries, not people
        cid = _COMP_IDS[primary[i]]
        label, (lo, hi) = cat.MODE_LABEL[mode[i]]
        hours.append(int(rng.integers(lo // 2, hi // 2 + 1)) * 2)
        themes = cat.COURSE_THEMES[cid]
        tier = cat.TIER_LABEL[min(min_level[i], 4) - 1]
        titles.append(f"{label} {themes[int(rng.integers(len(themes)))]} {tier}")
        options = cat.PROVIDERS_BY_COMPETENCY["M" if cid.startswith("M") else cid]
        if mode[i] in ("coaching", "mentoring") and rng.random() < 0.7:
            providers.append("BKPSDM Kota Palembang")
        elif rng.random() < 0.1:
            providers.append(cat.PROVIDERS[int(rng.integers(len(cat.PROVIDERS)))])
        else:
            w = 1.0 / np.arange(1, len(options) + 1)
            providers.append(options[int(rng.choice(len(options), p=w / w.sum()))])
        key = (titles[-1], providers[-1])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            titles[-1] += f" Angkatan {seen[key]}"

    course_ids = np.array([f"PLT-{i + 1:04d}" for i in range(n_courses)], dtype=object)
    active = np.ones(n_courses, dtype=bool)
    active[
        rng.choice(n_courses, size=int(round(INACTIVE_COURSE_SHARE * n_courses)), replace=False)
    ] = False

    # hidden effect and popularity, drawn independently so that popular != effective
    quality = np.array([_MODE_EFFECT[m] for m in mode]) * rng.lognormal(-0.1, 0.45, n_courses)
    popularity = (
        np.array([_MODE_POPULARITY[m] for m in mode])
        * np.array([_PROVIDER_PRESTIGE.get(p, 1.0) for p in providers])
        * rng.lognormal(0.0, 0.7, n_courses)
    )
    special = rng.permutation(n_courses)
    n_special = max(1, int(round(0.07 * n_courses)))
    hyped, gems = special[:n_special], special[n_special : 2 * n_special]
    popularity[hyped] *= 4.0
    quality[hyped] *= 0.25
    popularity[gems] *= 0.25
    quality[gems] *= 1.8
    quality = np.clip(quality * np.where(target - min_level >= 2, 1.2, 1.0), 0.02, 1.2)

    second = np.array([_COMP_INDEX[cat.RELATED_COMPETENCY[_COMP_IDS[p]]] for p in primary])
    comp = np.stack([primary, np.where(has_second, second, -1)], axis=1)
    band_min = np.stack([min_level, np.maximum(1, min_level - 1)], axis=1)
    band_target = np.stack([target, np.maximum(np.maximum(1, min_level - 1) + 1, target - 1)], 1)
    gain = np.stack([quality, quality * rng.uniform(0.3, 0.6, n_courses)], axis=1)
    gain[comp < 0] = 0.0

    prereq_course: list[int] = []
    prereq_of: list[int] = []
    for j in np.flatnonzero((min_level >= 2) & (rng.random(n_courses) < 0.45)):
        ok = (primary == primary[j]) & (min_level < min_level[j]) & (target >= min_level[j])
        ok &= active | ~active[j]
        candidates = np.flatnonzero(ok)
        if len(candidates):
            prereq_course.append(int(j))
            prereq_of.append(int(rng.choice(candidates)))

    rows, slots = np.nonzero(comp >= 0)
    comp_ids = np.array(_COMP_IDS, dtype=object)
    prereq = np.full(n_courses, -1, dtype=np.int64)
    prereq[prereq_course] = prereq_of
    return {
        "ids": course_ids,
        "prereq": prereq,
        "mode": np.array([_MODE_INDEX[m] for m in mode]),
        "hours": np.array(hours, dtype=np.int64),
        "active": active,
        "popularity": popularity,
        "comp": comp,
        "band_min": band_min,
        "band_target": band_target,
        "gain": gain,
        "courses": pd.DataFrame(
            {
                c.COURSE_ID: pd.Series(course_ids, dtype="str"),
                c.TITLE: pd.Series(titles, dtype="str"),
                c.PROVIDER: pd.Series(providers, dtype="str"),
                c.MODE: pd.Series(mode, dtype="str"),
                c.HOURS_JP: np.array(hours, dtype=np.int64),
                c.ACTIVE: active,
            }
        ),
        "course_competencies": pd.DataFrame(
            {
                c.COURSE_ID: pd.Series(course_ids[rows], dtype="str"),
                c.COMPETENCY_ID: pd.Series(comp_ids[comp[rows, slots]], dtype="str"),
                c.MIN_LEVEL: band_min[rows, slots].astype(np.int64),
                c.TARGET_LEVEL: band_target[rows, slots].astype(np.int64),
            }
        ),
        "effects_index": (rows, slots),
        "prerequisites": pd.DataFrame(
            {
                c.COURSE_ID: pd.Series(course_ids[prereq_course], dtype="str"),
                c.PREREQUISITE_ID: pd.Series(course_ids[prereq_of], dtype="str"),
            }
        ),
    }


# --- history -------------------------------------------------------------------------------------

#: Assessment methods: which competencies they cover, bias, noise and rounding step.
_METHODS = {
    "assessment_center": ("managerial", 0.0, 0.35, 1.0),
    "uji_kompetensi": ("technical", 0.0, 0.4, 1.0),
    "penilaian_360": ("managerial", 0.15, 0.3, 0.01),
    "mandiri": ("all", 0.45, 0.5, 1.0),
}
_METHOD_WEIGHT = {  # by position category, in the order of ASSESSMENT_METHODS
    "administrator": (0.35, 0.15, 0.3, 0.2),
    "pengawas": (0.3, 0.2, 0.3, 0.2),
    "jpt": (0.5, 0.1, 0.3, 0.1),
}
_DEFAULT_METHOD_WEIGHT = (0.1, 0.3, 0.25, 0.35)


def _simulate_history(rng, people, traits, catalog, req_by_position, years, until, report):
    """Quarter by quarter: assessments, enrollments, mentoring, SKP; latent levels evolve."""
    n = people["n"]
    n_comp = len(_COMP_IDS)
    n_courses = len(catalog["ids"])
    required = req_by_position[people["position"]]
    is_required = required > 0
    ability = traits["ability"]
    engagement = traits["engagement"]
    learning_rate = traits["learning_rate"]

    levels = np.where(
        is_required,
        required
        - 0.75
        + 0.25 * ability[:, None]
        + np.clip(0.03 * (people["service"][:, None] - 10), -0.4, 0.3)
        + 0.5 * rng.standard_normal((n, n_comp)),
        1.2 + 0.2 * ability[:, None] + 0.4 * rng.standard_normal((n, n_comp)),
    )
    np.clip(levels, 1.0, 5.0, out=levels)

    until_day = _day(until)
    first_month = np.datetime64(until, "M") + 1 - 12 * years
    n_quarters = 4 * years
    q_lo = (first_month + 3 * np.arange(n_quarters)).astype("datetime64[D]").astype(np.int64)
    q_hi = np.minimum(np.r_[q_lo[1:], _month_after(first_month, 3 * n_quarters)] - 1, until_day)

    weights_all, weights_late = _course_weights(catalog, req_by_position)
    method_cover = _method_cover()
    cat_names = list(_METHOD_WEIGHT) + ["other"]
    method_cum = _cumulative(
        np.array([_METHOD_WEIGHT[k] for k in _METHOD_WEIGHT] + [_DEFAULT_METHOD_WEIGHT])
    )
    method_row = np.array(
        [
            cat_names.index(p.category) if p.category in _METHOD_WEIGHT else len(cat_names) - 1
            for p in cat.POSITIONS
        ]
    )[people["position"]]
    mode_base = np.array([dt.MODE_BASE_LOGIT[m] for m in c.COURSE_MODES])

    out: dict[str, list] = {k: [] for k in ("assess", "enroll", "mentor", "review")}
    taken = np.empty(0, dtype=np.int64)  # person * n_courses + course, sorted
    completed = np.empty(0, dtype=np.int64)
    pending_course = _empty_pending(("person", "course", "due", "noise"))
    pending_mentor = _empty_pending(("mentor", "mentee", "focus", "due", "noise"))
    mrng = traits["mentoring_rng"]  # mentoring draws its own stream: courses never shift
    pending_post = _empty_pending(("person", "focus", "due", "day"))

    for q in range(n_quarters):
        lo, hi = q_lo[q], q_hi[q]
        present = (people["tmt"] <= hi) & (people["left_day"] > lo)

        # assessments: noisy measurements of the latent level at the start of the quarter
        who = np.flatnonzero(present & (rng.random(n) < ASSESS_RATE))
        day = np.maximum(_uniform_days(rng, lo, hi, len(who)), people["tmt"][who])
        keep = day < people["left_day"][who]
        who, day = who[keep], day[keep]
        method = _choose_rows(rng, method_cum, method_row[who])
        ev, comp = np.nonzero(is_required[who] & method_cover[method])
        person = who[ev]
        m = method[ev]
        bias = np.array([v[1] for v in _METHODS.values()])[m]
        noise = np.array([v[2] for v in _METHODS.values()])[m]
        step = np.array([v[3] for v in _METHODS.values()])[m]
        measured = levels[person, comp] + bias + noise * rng.standard_normal(len(person))
        measured = np.clip(np.round(measured / step) * step, 1.0, 5.0)
        out["assess"].append((person, comp, np.round(measured, 2), day[ev], m))

        # enrollments
        counts = rng.poisson(ENROLL_RATE * np.exp(0.25 * engagement)) * present
        person = np.repeat(np.arange(n), counts)
        weights = weights_late if q >= 0.6 * n_quarters else weights_all
        course = _choose_rows(rng, weights, people["position"][person])
        # nobody takes the same course twice, and most wait for the prerequisite
        key = person.astype(np.int64) * n_courses + course
        fresh = _first_occurrence(key) & ~_sorted_contains(taken, key)
        prereq = catalog["prereq"][course]
        missing = (prereq >= 0) & ~_sorted_contains(completed, person * n_courses + prereq)
        fresh &= ~missing | (rng.random(len(key)) < PREREQ_WAIVED)
        person, course, key = person[fresh], course[fresh], key[fresh]
        taken = np.sort(np.concatenate([taken, np.sort(key)]), kind="stable")  # merges runs
        start = np.maximum(_uniform_days(rng, lo, hi, len(person)), people["tmt"][person])
        keep = start < people["left_day"][person]
        person, course, start = person[keep], course[keep], start[keep]
        out["enroll"].append(
            _enroll_outcomes(
                rng,
                person,
                course,
                start,
                catalog,
                traits,
                mode_base,
                levels,
                learning_rate,
                people["left_day"],
                until_day,
            )
        )
        done = out["enroll"][-1]
        finished = done["status"] == 0
        completed = np.sort(
            np.concatenate(
                [
                    completed,
                    np.sort(done["person"][finished] * n_courses + done["course"][finished]),
                ]
            ),
            kind="stable",
        )
        pending_course = _append_pending(
            pending_course,
            person=done["person"][finished],
            course=done["course"][finished],
            due=np.searchsorted(q_hi, done["end"][finished]),
            noise=rng.lognormal(-0.045, 0.3, int(finished.sum())),
        )

        # mentoring: seniors of the same kecamatan guide juniors on their largest gap
        post_due = pending_post["due"] == q
        if post_due.any():
            out["assess"].append(
                _mentoring_assessments(
                    mrng,
                    levels,
                    pending_post["person"][post_due],
                    pending_post["focus"][post_due],
                    pending_post["day"][post_due],
                )
            )
            pending_post = {k: v[~post_due] for k, v in pending_post.items()}
        mentorships = _draw_mentorships(
            mrng, people, traits, levels, required, present, lo, hi, until_day
        )
        if mentorships is not None:
            out["mentor"].append(mentorships)
            base = mrng.random(len(mentorships["mentee"])) < MENTORING_BASELINE_SHARE
            out["assess"].append(
                _mentoring_assessments(
                    mrng,
                    levels,
                    mentorships["mentee"][base],
                    mentorships["focus"][base],
                    mentorships["start"][base],
                )
            )
            ended = mentorships["end"] != _NAT
            due = np.searchsorted(q_hi, mentorships["end"][ended])
            pending_mentor = _append_pending(
                pending_mentor,
                mentor=mentorships["mentor"][ended],
                mentee=mentorships["mentee"][ended],
                focus=mentorships["focus"][ended],
                due=due,
                noise=mrng.lognormal(-0.045, 0.3, int(ended.sum())),
            )
            # the post-mentorship assessment comes a few weeks after the end (its gain is in)
            post_day = mentorships["end"][ended] + mrng.integers(14, 60, int(ended.sum()))
            post = (
                (mrng.random(int(ended.sum())) < MENTORING_POST_SHARE)
                & (post_day <= until_day)
                & (post_day < people["left_day"][mentorships["mentee"][ended]])
            )
            pending_post = _append_pending(
                pending_post,
                person=mentorships["mentee"][ended][post],
                focus=mentorships["focus"][ended][post],
                due=np.maximum(np.searchsorted(q_hi, post_day[post]), due[post] + 1),
                day=post_day[post],
            )

        # quarter end: gains of what finished, on-the-job drift, SKP at year end
        pending_course = _apply_course_gains(levels, pending_course, q, catalog, learning_rate)
        pending_mentor = _apply_mentor_gains(levels, pending_mentor, q, traits, learning_rate)
        levels += ON_THE_JOB_GAIN * (is_required & present[:, None])
        np.clip(levels, 1.0, 5.0, out=levels)
        year_end = np.datetime64(int(hi), "D").astype(object)
        if year_end.month == 12 and year_end.day == 31:
            out["review"].append(
                _draw_reviews(rng, people, traits, levels, required, year_end.year, hi)
            )
        report("history", 0.2 + 0.6 * (q + 1) / n_quarters)

    return {"levels": levels, **{k: v for k, v in out.items()}}


def _course_weights(catalog: dict, req_by_position: np.ndarray):
    """Cumulative course-choice distribution per position: popularity x relevance x fit."""
    comp, band_min = catalog["comp"], catalog["band_min"]
    technical = np.array([kind == "teknis" for _, _, kind in cat.COMPETENCIES])
    rel = np.zeros((len(req_by_position), len(catalog["ids"])))
    for slot in range(comp.shape[1]):
        valid = comp[:, slot] >= 0
        cid = np.maximum(comp[:, slot], 0)
        req = req_by_position[:, cid]
        value = np.where(req > 0, np.where(technical[cid], 4.0, 1.5), 0.3)
        fit = np.where(band_min[:, slot] <= req + 1, 1.0, 0.4)
        rel = np.maximum(rel, np.where(valid, value * fit, 0.0))
    weights = rel * catalog["popularity"][None, :]
    return _cumulative(weights), _cumulative(weights * catalog["active"][None, :])


def _method_cover() -> np.ndarray:
    kinds = np.array([kind for _, _, kind in cat.COMPETENCIES])
    cover = {
        "managerial": kinds != "teknis",
        "technical": kinds == "teknis",
        "all": np.ones(len(kinds), dtype=bool),
    }
    return np.array([cover[v[0]] for v in _METHODS.values()])


def _enroll_outcomes(
    rng,
    person,
    course,
    start,
    catalog,
    traits,
    mode_base,
    levels,
    learning_rate,
    left_day,
    until_day,
) -> dict:
    """Status (0 completed, 1 dropped, 2 no_show, 3 ongoing), end day and post-test score."""
    mode = catalog["mode"][course]
    hours = catalog["hours"][course]
    n = len(person)
    duration = _duration_days(rng, mode, hours)
    engagement = traits["engagement"][person]
    p_complete = dt.completion_probability(
        engagement, traits["affinity"][person, mode], mode_base[mode], hours
    )
    completed = rng.random(n) < p_complete
    no_show = ~completed & (rng.random(n) < 1 / (1 + np.exp(0.4 + 0.9 * engagement)))
    status = np.where(completed, 0, np.where(no_show, 2, 1))
    drop_after = np.maximum(1, np.floor(rng.uniform(0.1, 0.8, n) * duration)).astype(np.int64)
    end = np.where(completed, start + duration, np.where(no_show, _NAT, start + drop_after))
    # people who leave the service mid-course drop it on their last day
    left = (end != _NAT) & (end >= left_day[person])
    status = np.where(left, 1, status)
    end = np.where(left, np.maximum(start, left_day[person] - 1), end)
    ongoing = (end != _NAT) & (end > until_day)
    status = np.where(ongoing, 3, status)
    end = np.where(ongoing, _NAT, end)

    comp0 = catalog["comp"][course, 0]
    level0 = levels[person, comp0]
    gain0 = dt.course_gain(
        level0,
        catalog["gain"][course, 0],
        catalog["band_min"][course, 0],
        catalog["band_target"][course, 0],
        learning_rate[person],
    )
    score = (
        58
        + 8 * np.clip(level0 - catalog["band_min"][course, 0], -2, 2)
        + 30 * gain0
        + 4 * engagement
        + 7 * rng.standard_normal(n)
    )
    score = np.where(status == 0, np.round(np.clip(score, 0, 100), 1), np.nan)
    return {
        "person": person,
        "course": course,
        "start": start,
        "end": end,
        "status": status,
        "score": score,
    }


def _duration_days(rng, mode: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Calendar days a course runs: JP per day by mode, guided formats spread over weeks."""
    per_day = np.array([7.0, 1.5, 3.0, 8.0, 8.0, 0.4, 0.3, 6.0])[mode]  # klasikal..magang
    days = np.ceil(hours / per_day * 1.4) + rng.integers(0, 3, len(mode))
    return np.maximum(1, days).astype(np.int64)


def _draw_mentorships(rng, people, traits, levels, required, present, lo, hi, until_day):
    n = people["n"]
    mentee = np.flatnonzero(present & (people["service"] > 0.5) & (rng.random(n) < MENTEE_RATE))
    pool = np.flatnonzero(present & (people["service"] >= 1) & (people["left_day"] > hi + 200))
    if len(mentee) == 0 or len(pool) == 0:
        return None
    gap = np.where(required[mentee] > 0, required[mentee] - levels[mentee], -9.0)
    focus = np.argmax(gap + 0.25 * rng.standard_normal(gap.shape), axis=1)
    pool = pool[np.argsort(people["block"][pool], kind="stable")]
    pool_block = people["block"][pool]
    block = people["block"][mentee]
    first = np.searchsorted(pool_block, block, "left")
    size = np.searchsorted(pool_block, block, "right") - first
    # some seniors are asked again and again (propensity), independently of their skill
    cum = np.cumsum(traits["mentor_propensity"][pool])
    before = np.r_[0.0, cum][first]
    total = np.r_[0.0, cum][first + size] - before
    mentor = np.full(len(mentee), -1, dtype=np.int64)
    for _ in range(10):  # a few redraws for mentees whose candidate did not fit
        todo = np.flatnonzero((mentor < 0) & (size > 0))
        if len(todo) == 0:
            break
        draw = before[todo] + rng.random(len(todo)) * total[todo]
        at = np.clip(np.searchsorted(cum, draw, "right"), first[todo], first[todo] + size[todo] - 1)
        cand = pool[at]
        me = mentee[todo]
        fits = (
            (cand != me)
            & (people["gol_rank"][cand] > people["gol_rank"][me])
            & (levels[cand, focus[todo]] >= levels[me, focus[todo]] + 0.3)
        )
        mentor[todo[fits]] = cand[fits]
    ok = mentor >= 0
    mentor, mentee, focus = mentor[ok], mentee[ok], focus[ok]
    order = np.argsort(mentor, kind="stable")
    mentor, mentee, focus = mentor[order], mentee[order], focus[order]
    rank = np.arange(len(mentor)) - np.searchsorted(mentor, mentor, "left")
    keep = rank < MENTOR_NEW_PER_QUARTER
    mentor, mentee, focus = mentor[keep], mentee[keep], focus[keep]
    if len(mentor) == 0:
        return None
    k = len(mentor)
    start = np.maximum(_uniform_days(rng, lo, hi, k), people["tmt"][mentee])
    end = start + rng.integers(90, 181, k)
    last = np.minimum(people["left_day"][mentor], people["left_day"][mentee]) - 1
    end = np.minimum(end, last)
    valid = end > start
    outcome = dt.mentoring_rating(
        rng, traits["mentor_quality"][mentor], traits["mentor_rapport"][mentor],
        traits["engagement"][mentee],
    )  # fmt: skip
    ongoing = end > until_day  # still running at the end of the history
    return {
        "mentor": mentor[valid],
        "mentee": mentee[valid],
        "focus": focus[valid],
        "start": start[valid],
        "end": np.where(ongoing, _NAT, end)[valid],
        "outcome": np.where(ongoing, -1, outcome)[valid],
    }


def _draw_reviews(rng, people, traits, levels, required, year, year_end_day):
    """Yearly SKP: result from competence and ability, behaviour from engagement and M1."""
    eligible = (people["tmt"] <= _day(date(year, 7, 1))) & (people["left_day"] > year_end_day)
    who = np.flatnonzero(eligible)
    req = required[who]
    gap = np.where(req > 0, np.clip(levels[who] - req, -2, 1), 0.0).sum(1) / np.maximum(
        (req > 0).sum(1), 1
    )
    m1 = _COMP_INDEX["M1"]
    result = 0.6 * gap + 0.6 * traits["ability"][who] + 0.6 * rng.standard_normal(len(who))
    behavior = (
        0.6 * traits["engagement"][who]
        + 0.5 * (levels[who, m1] - req[:, m1])
        + 0.6 * rng.standard_normal(len(who))
    )

    def grade(x):  # 0 di_atas, 1 sesuai, 2 di_bawah (order of EXPECTATION_VALUES)
        return np.where(x > 0.85, 0, np.where(x < -1.1, 2, 1))

    return who, np.full(len(who), year, dtype=np.int64), grade(result), grade(behavior)


def _apply_course_gains(levels, pending, q, catalog, learning_rate):
    due = pending["due"] == q
    person, course, noise = pending["person"][due], pending["course"][due], pending["noise"][due]
    for slot in range(catalog["comp"].shape[1]):
        comp = catalog["comp"][course, slot]
        ok = comp >= 0
        p, k = person[ok], comp[ok]
        gain = dt.course_gain(
            levels[p, k],
            catalog["gain"][course[ok], slot],
            catalog["band_min"][course[ok], slot],
            catalog["band_target"][course[ok], slot],
            learning_rate[p],
        )
        np.add.at(levels, (p, k), gain * noise[ok])
    return {key: value[~due] for key, value in pending.items()}


def _apply_mentor_gains(levels, pending, q, traits, learning_rate):
    due = pending["due"] == q
    mentor, mentee, focus = pending["mentor"][due], pending["mentee"][due], pending["focus"][due]
    gain = dt.mentor_gain(
        traits["mentor_quality"][mentor],
        learning_rate[mentee],
        levels[mentor, focus] - levels[mentee, focus],
    )
    np.add.at(levels, (mentee, focus), gain * pending["noise"][due])
    return {key: value[~due] for key, value in pending.items()}


def _mentoring_assessments(rng, levels, person, focus, day):
    """Assessments of mentees in their focus (baseline or post-mentorship), as `out["assess"]`.

    Technical competencies are tested (uji kompetensi), the others by an assessment centre or
    a 360-degree review; a quarter are self-assessments (mandiri), biased upward.
    """
    technical = np.array([kind == "teknis" for _, _, kind in cat.COMPETENCIES])[focus]
    u = rng.random(len(person))
    method = np.where(u < 0.7, 2, np.where(technical, 1, 0))
    method = np.where(rng.random(len(person)) < 0.1, 3, method)
    bias = np.array([v[1] for v in _METHODS.values()])[method]
    noise = np.array([v[2] for v in _METHODS.values()])[method]
    step = np.array([v[3] for v in _METHODS.values()])[method]
    measured = levels[person, focus] + bias + noise * rng.standard_normal(len(person))
    measured = np.clip(np.round(measured / step) * step, 1.0, 5.0)
    return (person, focus, np.round(measured, 2), np.asarray(day, dtype=np.int64), method)


def _empty_pending(keys) -> dict:
    return {k: np.empty(0, dtype=float if k == "noise" else np.int64) for k in keys}


def _append_pending(pending: dict, **new) -> dict:
    return {
        k: np.concatenate([pending[k], np.asarray(new[k], dtype=pending[k].dtype)]) for k in pending
    }


# --- assembly ------------------------------------------------------------------------------------


def _employee_frame(people: dict, org: dict) -> pd.DataFrame:
    nip = pa.array(people["nip"], type=pa.string())
    sup = people["supervisor"]
    return pd.DataFrame(
        {
            c.NIP: _take(nip, np.arange(people["n"])),
            c.NAME: pd.Series(people["name"], dtype="str"),
            c.GENDER: pd.Series(np.where(people["female"], "P", "L"), dtype="str"),
            c.BIRTH_DATE: _dates(people["birth"]),
            c.TMT_CPNS: _dates(people["tmt"]),
            c.GOLONGAN: pd.Series(
                np.array(c.GOLONGAN_VALUES, dtype=object)[people["gol_rank"] - 1], dtype="str"
            ),
            c.EDUCATION: pd.Series(people["education"], dtype="str"),
            c.UNIT_ID: pd.Series(org["ids"][people["unit"]], dtype="str"),
            c.POSITION_ID: pd.Series(
                np.array(_POS_IDS, dtype=object)[people["position"]], dtype="str"
            ),
            c.SUPERVISOR_NIP: _take(nip, sup, missing=sup < 0),
            c.ACTIVE: people["active"].astype(bool),
        }
    )


def _history_frames(history: dict, nip: pa.Array, catalog: dict) -> dict[str, pd.DataFrame]:
    comp_ids = pa.array(_COMP_IDS, type=pa.string())
    course_ids = pa.array(catalog["ids"], type=pa.string())

    def cat_(parts, i):
        return np.concatenate([p[i] for p in parts]) if parts else np.empty(0, dtype=np.int64)

    a = history["assess"]
    methods = pa.array(list(_METHODS), type=pa.string())
    assessments = pd.DataFrame(
        {
            c.NIP: _take(nip, cat_(a, 0)),
            c.COMPETENCY_ID: _take(comp_ids, cat_(a, 1)),
            c.LEVEL: cat_(a, 2).astype(float),
            c.ASSESSED_ON: _dates(cat_(a, 3)),
            c.METHOD: _take(methods, cat_(a, 4)),
        }
    )

    e = history["enroll"]
    pick = {k: np.concatenate([part[k] for part in e]) for k in e[0]}
    statuses = pa.array(["completed", "dropped", "no_show", "ongoing"], type=pa.string())
    enrollments = pd.DataFrame(
        {
            c.NIP: _take(nip, pick["person"]),
            c.COURSE_ID: _take(course_ids, pick["course"]),
            c.START_DATE: _dates(pick["start"]),
            c.END_DATE: _dates(pick["end"]),
            c.STATUS: _take(statuses, pick["status"]),
            c.SCORE: pick["score"].astype(float),
        }
    )

    m = history["mentor"]
    mk = ("mentor", "mentee", "focus", "start", "end", "outcome")
    ms = {k: np.concatenate([part[k] for part in m]) if m else np.empty(0, np.int64) for k in mk}
    outcome = pd.array(ms["outcome"], dtype="Int64")
    outcome[ms["outcome"] < 0] = pd.NA
    mentorships = pd.DataFrame(
        {
            c.MENTOR_NIP: _take(nip, ms["mentor"]),
            c.MENTEE_NIP: _take(nip, ms["mentee"]),
            c.COMPETENCY_ID: _take(comp_ids, ms["focus"]),
            c.START_DATE: _dates(ms["start"]),
            c.END_DATE: _dates(ms["end"]),
            c.OUTCOME: outcome,
        }
    )

    r = history["review"]
    expect = np.array(c.EXPECTATION_VALUES, dtype=object)
    result, behavior = expect[cat_(r, 2)], expect[cat_(r, 3)]
    rating = np.array([c.SKP_MATRIX[(x, y)] for x in expect for y in expect], dtype=object)
    reviews = pd.DataFrame(
        {
            c.NIP: _take(nip, cat_(r, 0)),
            c.YEAR: cat_(r, 1).astype(np.int64),
            c.WORK_RESULT: pd.Series(result, dtype="str"),
            c.WORK_BEHAVIOR: pd.Series(behavior, dtype="str"),
            c.RATING: pd.Series(rating[cat_(r, 2) * 3 + cat_(r, 3)], dtype="str"),
        }
    )
    return {
        c.ASSESSMENTS: assessments,
        c.ENROLLMENTS: enrollments,
        c.MENTORSHIPS: mentorships,
        c.PERFORMANCE_REVIEWS: reviews,
    }


def _truth_frames(nip: pa.Array, traits: dict, catalog: dict, levels: np.ndarray):
    n, n_comp = levels.shape
    rows, slots = catalog["effects_index"]
    course_ids = pd.Series(catalog["ids"], dtype="str")
    comp_ids = np.array(_COMP_IDS, dtype=object)
    course_effects = pd.DataFrame(
        {
            c.COURSE_ID: course_ids.to_numpy()[rows],
            c.COMPETENCY_ID: comp_ids[catalog["comp"][rows, slots]],
            dt.TRUE_GAIN: np.round(catalog["gain"][rows, slots], 4),
            c.MIN_LEVEL: catalog["band_min"][rows, slots].astype(np.int64),
            c.TARGET_LEVEL: catalog["band_target"][rows, slots].astype(np.int64),
        }
    ).astype({c.COURSE_ID: "str", c.COMPETENCY_ID: "str"})
    course_params = pd.DataFrame(
        {
            c.COURSE_ID: course_ids,
            c.MODE: pd.Series(np.array(c.COURSE_MODES)[catalog["mode"]], dtype="str"),
            c.HOURS_JP: catalog["hours"],
            dt.POPULARITY: np.round(catalog["popularity"], 4),
            c.ACTIVE: catalog["active"],
        }
    )
    all_people = np.arange(n)
    person_traits = pd.DataFrame(
        {
            c.NIP: _take(nip, all_people),
            dt.ENGAGEMENT: np.round(traits["engagement"], 4),
            dt.FORMAT_PREFERENCE: np.round(traits["preference"], 4),
            dt.LEARNING_RATE: np.round(traits["learning_rate"], 4),
            dt.ABILITY: np.round(traits["ability"], 4),
            **{
                dt.affinity_column(mode): np.round(traits["affinity"][:, i], 4)
                for i, mode in enumerate(c.COURSE_MODES)
            },
        }
    )
    mentor_quality = pd.DataFrame(
        {
            c.NIP: _take(nip, all_people),
            dt.QUALITY: np.round(traits["mentor_quality"], 4),
            dt.RAPPORT: np.round(traits["mentor_rapport"], 4),
        }
    )
    true_levels = pd.DataFrame(
        {
            c.NIP: _take(nip, np.repeat(all_people, n_comp)),
            c.COMPETENCY_ID: _take(pa.array(_COMP_IDS), np.tile(np.arange(n_comp), n)),
            dt.TRUE_LEVEL: np.round(levels.ravel(), 4),
        }
    )
    return {
        dt.COURSE_EFFECTS: course_effects,
        dt.COURSE_PARAMS: course_params,
        dt.PERSON_TRAITS: person_traits,
        dt.MENTOR_QUALITY: mentor_quality,
        dt.TRUE_LEVELS: true_levels,
    }


# --- small vectorised helpers --------------------------------------------------------------------


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` in proportion to `weights` (largest remainder), as integers."""
    share = total * weights / weights.sum()
    counts = np.floor(share).astype(np.int64)
    rest = total - counts.sum()
    if rest:
        counts[np.argsort(-(share - counts), kind="stable")[:rest]] += 1
    return counts


def _cumulative(weights: np.ndarray) -> np.ndarray:
    """Row-wise cumulative distribution (last column exactly 1) for `_choose_rows`."""
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1:]
    cum = np.divide(cum, total, out=np.zeros_like(cum), where=total > 0)
    cum[:, -1] = 1.0
    return cum


def _choose_rows(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category per element, drawn from the distribution of row `rows[i]` of `cum`."""
    n_rows, k = cum.shape
    flat = (cum + np.arange(n_rows)[:, None]).ravel()
    draw = rows + rng.random(len(rows))
    return np.searchsorted(flat, draw, side="right") - rows * k


def _first_occurrence(values: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of each value (sort based: faster than np.unique here)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.ones(len(values), dtype=bool)
    first[order[1:]] = ordered[1:] != ordered[:-1]
    return first


def _sorted_contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Membership of `values` in an already sorted array."""
    if len(sorted_values) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[at] == values


def _day(d: date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64))


def _month_start(days: np.ndarray) -> np.ndarray:
    return (
        days.astype("datetime64[D]")
        .astype("datetime64[M]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )


def _month_after(first_month: np.datetime64, months: int) -> np.int64:
    return (first_month + months).astype("datetime64[D]").astype(np.int64)


def _uniform_days(rng: np.random.Generator, lo: int, hi: int, size: int) -> np.ndarray:
    return lo + np.floor(rng.random(size) * (hi - lo + 1)).astype(np.int64)


def _dates(days: np.ndarray) -> pd.Series:
    """Day numbers (or `_NAT`) as a datetime64[ns] Series."""
    days = np.asarray(days, dtype=np.int64)
    values = days.astype("datetime64[D]").astype("datetime64[ns]")
    values[days == _NAT] = np.datetime64("NaT")
    return pd.Series(values)


def _take(values: pa.Array, idx: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """values[idx] as a pandas `str` Series; `missing` marks rows to leave empty."""
    idx = np.asarray(idx, dtype=np.int64)
    mask = None if missing is None else np.asarray(missing, dtype=bool)
    taken = values.take(pa.array(np.where(mask, 0, idx) if mask is not None else idx, mask=mask))
    series = taken.to_pandas()
    return series if series.dtype == "str" else series.astype("str")
