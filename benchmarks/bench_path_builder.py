"""Micro-benchmark of model.path_builder: per-employee time of build_paths on a synthetic catalog.

Prints numbers and writes benchmarks/results/path_builder.json when run from the repo root.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features import columns as c
from model.path_builder import build_paths
from model.path_catalog import Catalog
from model.path_inputs import EmployeeState, candidates_from_frame


def synthetic(n_courses=300, n_comp=60, n_employees=2000, n_cand=40, seed=0):
    rng = np.random.default_rng(seed)
    cids = [f"C{i:04d}" for i in range(n_courses)]
    courses = pd.DataFrame(
        {
            c.COURSE_ID: cids,
            c.TITLE: [f"Pelatihan {i}" for i in range(n_courses)],
            c.PROVIDER: "BPSDM",
            c.MODE: rng.choice(c.COURSE_MODES, n_courses),
            c.HOURS_JP: rng.choice([4, 8, 12, 16, 20, 24, 32, 40], n_courses),
            c.ACTIVE: rng.random(n_courses) < 0.9,
        }
    )
    rows = []
    for cid in cids:
        for k in rng.choice(n_comp, rng.integers(1, 4), replace=False):
            lo = int(rng.integers(1, 5))
            rows.append((cid, f"K{k:02d}", lo, int(rng.integers(lo + 1, 6))))
    bands = pd.DataFrame(rows, columns=[c.COURSE_ID, c.COMPETENCY_ID, c.MIN_LEVEL, c.TARGET_LEVEL])
    pre = (
        [
            (cids[j], cids[i])
            for j in range(n_courses)
            if rng.random() < 0.15
            for i in rng.choice(j, min(j, int(rng.integers(1, 3))), replace=False)
        ]
        if n_courses
        else []
    )
    pre = pd.DataFrame(pre, columns=[c.COURSE_ID, c.PREREQUISITE_ID]).drop_duplicates()
    names = {f"K{k:02d}": f"Kompetensi {k}" for k in range(n_comp)}
    cat = Catalog.from_frames(courses, bands, pre, names)
    emps, frames = [], []
    for e in range(n_employees):
        nip = f"{e:018d}"
        req = rng.choice(n_comp, rng.integers(6, 14), replace=False)
        gaps = {
            f"K{k:02d}": (float(rng.choice([1, 2, 2.5, 3, 4])), float(rng.integers(2, 6)))
            for k in req
        }
        done = frozenset(rng.choice(cids, rng.integers(0, 10), replace=False).tolist())
        emps.append(EmployeeState(nip, gaps, done))
        chosen = rng.choice(n_courses, n_cand, replace=False)
        ptr = cat.entry_ptr
        for ci in chosen:
            p = rng.random()
            for pos in range(ptr[ci], ptr[ci + 1]):
                frames.append(
                    (
                        nip,
                        cids[ci],
                        cat.competency_ids[cat.entry_comp[pos]],
                        p,
                        rng.random() * 2,
                        rng.random(),
                    )
                )
    frame = pd.DataFrame(
        frames,
        columns=[c.NIP, c.COURSE_ID, c.COMPETENCY_ID, "p_complete", "expected_gain", "rank_score"],
    )
    risks = {emp.nip: float(r) for emp, r in zip(emps, rng.random(n_employees), strict=True)}
    return cat, emps, frame, risks


def main(n_employees: int = 2000) -> dict:
    cat, emps, frame, risks = synthetic(n_employees=n_employees)
    t0 = time.perf_counter()
    cands = candidates_from_frame(frame, cat)
    t_frame = time.perf_counter() - t0
    build_paths(emps[:50], cands, cat, risks=risks)  # warm-up
    t0 = time.perf_counter()
    c0 = time.process_time()
    paths = build_paths(emps, cands, cat, risks=risks)
    t_build = time.perf_counter() - t0
    cpu = time.process_time() - c0
    lens = [len(p) for p in paths]
    hrs = [sum(s.hours_jp for s in p) for p in paths]
    result = {
        "employees": n_employees,
        "candidates_per_employee": 40,
        "courses": cat.n_courses,
        "frame_rows": len(frame),
        "candidates_from_frame_s": round(t_frame, 3),
        "build_ms_per_employee": round(1000 * t_build / n_employees, 4),
        "build_cpu_ms_per_employee": round(1000 * cpu / n_employees, 4),
        "extrapolated_100k_s": round(100_000 * t_build / n_employees, 1),
        "mean_courses": float(np.mean(lens)),
        "mean_jp": float(np.mean(hrs)),
        "share_reaching_20_jp": float(np.mean(np.array(hrs) >= 20)),
    }
    print(json.dumps(result, indent=2))
    out = Path("benchmarks/results")
    if out.parent.is_dir():
        out.mkdir(exist_ok=True)
        (out / "path_builder.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
