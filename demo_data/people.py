"""The organisation and its people: units (from the Palembang / Sumatera Selatan place names),
employees with golongan, education, age and NIP, names, and the hidden person traits.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd

from demo_data import catalog as cat
from demo_data import truth as dt
from demo_data.arrays import (
    allocate_counts,
    choose_rows,
    cumulative_weights,
    day_number,
    month_start,
)
from demo_data.reference import EDU_INDEX, POS_IDS, POS_INDEX
from features import columns as c

#: Units are filled until each holds about this many staff; beyond the place names we know
#: (about 1,900 staffed units) units simply grow.
TARGET_UNIT_STAFF = 60


INACTIVE_SHARE = 0.03


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


def build_units(n_employees: int) -> dict:
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
    mix_cum = np.zeros((len(mix_keys), len(POS_IDS)))
    for row, key in enumerate(mix_keys):
        mix = cat.STAFF_MIX.get(key) or cat.SECTION_STAFF[key]
        for pid, share in mix:
            mix_cum[row, POS_INDEX[pid]] = share
    mix_cum = cumulative_weights(mix_cum)
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
        slots[u, : len(struct)] = [POS_INDEX[pid] for pid in struct]
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


def draw_people(rng: np.random.Generator, n: int, org: dict, until: date) -> dict:
    counts = allocate_counts(n, org["weight"])
    unit = np.repeat(np.arange(len(counts)), counts)
    rank = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    n_slots = org["n_slots"][unit]
    structural = rank < n_slots
    slot = org["slots"][unit, np.minimum(rank, org["slots"].shape[1] - 1)]
    sampled = choose_rows(rng, org["mix_cum"], org["mix_row"][unit])
    position = np.where(structural, slot, sampled)

    pos_defs = cat.POSITIONS
    female_share = np.array([_FEMALE_SHARE.get(p.position_id, 0.48) for p in pos_defs])
    female = rng.random(n) < female_share[position]

    edu_cum = np.zeros((len(pos_defs), len(c.EDUCATION_VALUES)))
    for i, p in enumerate(pos_defs):
        for edu, w in p.education:
            edu_cum[i, EDU_INDEX[edu]] = w
    education = choose_rows(rng, cumulative_weights(edu_cum), position)
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

    until_day = day_number(until)
    birth = until_day - np.floor(age * 365.25).astype(np.int64)
    tmt = month_start(birth + np.floor(hire_age * 365.25).astype(np.int64))
    tmt = np.minimum(tmt, month_start(np.array([until_day]))[0])
    tmt = np.maximum(tmt, month_start(birth + int(18 * 365.25) + 31))
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


def draw_traits(rng: np.random.Generator, n: int) -> dict:
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
