"""Draw a demo world and write it: `generate_demo` (tables + hidden truth) and `write_demo`.

The dataset goes to one folder in the contract form, the truth to a separate folder that
models never read, so an evaluator can score recommendations against what would really happen.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from time import perf_counter

import numpy as np
import pandas as pd
import pyarrow as pa

from demo_data import truth as dt
from demo_data.courses import draw_catalog
from demo_data.history import simulate_history
from demo_data.people import build_units, draw_people, draw_traits
from demo_data.reference import reference_tables
from demo_data.tables import employee_frame, history_frames, truth_frames
from features import columns as c
from features.dataset_writer import write_dataset, write_frames

DEFAULT_UNTIL = date(2026, 9, 30)


DEFAULT_COURSES = 150


Progress = Callable[[str, float], None]


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
    org = build_units(n_employees)
    competencies, positions, requirements, req_by_position = reference_tables()
    report("employees", 0.05)
    people = draw_people(rng, n_employees, org, until)
    traits = draw_traits(rng, n_employees)
    mentoring_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    traits.update(dt.draw_mentor_traits(mentoring_rng, n_employees))
    traits["mentoring_rng"] = mentoring_rng
    report("catalog", 0.15)
    catalog = draw_catalog(rng, n_courses)
    report("history", 0.2)
    history = simulate_history(rng, people, traits, catalog, req_by_position, years, until, report)
    report("tables", 0.85)
    nip = pa.array(people["nip"], type=pa.string())
    tables = {
        c.UNITS: org["frame"],
        c.COMPETENCIES: competencies,
        c.POSITIONS: positions,
        c.POSITION_REQUIREMENTS: requirements,
        c.EMPLOYEES: employee_frame(people, org),
        **history_frames(history, nip, catalog),
        c.COURSES: catalog["courses"],
        c.COURSE_COMPETENCIES: catalog["course_competencies"],
        c.COURSE_PREREQUISITES: catalog["prerequisites"],
    }
    tables = {name: tables[name] for name in c.ALL_TABLES}
    truth = truth_frames(nip, traits, catalog, history["levels"])
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
