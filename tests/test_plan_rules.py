"""The plan rules as an independent check: an ongoing prerequisite is not a completed one."""

from __future__ import annotations

import pandas as pd
import pytest

from features import columns as c
from model.path_catalog import Catalog
from model.plan_rules import missing_prerequisites, plan_violations

NIP = "199001012015031001"


@pytest.fixture
def cat() -> Catalog:
    courses = pd.DataFrame(
        {
            c.COURSE_ID: ["A", "B"],
            c.TITLE: ["Dasar", "Lanjut"],
            c.PROVIDER: ["BPSDM", "BPSDM"],
            c.MODE: ["klasikal", "klasikal"],
            c.HOURS_JP: [8, 12],
            c.ACTIVE: [True, True],
        }
    )
    bands = pd.DataFrame(
        {
            c.COURSE_ID: ["A", "B"],
            c.COMPETENCY_ID: ["PP", "PP"],
            c.MIN_LEVEL: [1, 2],
            c.TARGET_LEVEL: [2, 3],
        }
    )
    pre = pd.DataFrame({c.COURSE_ID: ["B"], c.PREREQUISITE_ID: ["A"]})
    return Catalog.from_frames(courses, bands, pre, {"PP": "Pelayanan Publik"})


def plan(*courses: tuple[str, int]) -> dict:
    steps = [
        {"order": k, c.COURSE_ID: cid, c.HOURS_JP: jp, "reason_id": "x", "reason_en": "y"}
        for k, (cid, jp) in enumerate(courses, start=1)
    ]
    return {c.NIP: NIP, "training_path": steps, "total_jp": sum(j for _, j in courses)}


def test_an_ongoing_prerequisite_is_a_violation(cat):
    problems = plan_violations([plan(("B", 12))], cat, {}, {NIP: {"A"}}, jp_budget=40)
    expected = f"{NIP} step 1 (B): prerequisite A neither completed (only ongoing) nor earlier"
    assert problems == [expected]
    assert plan_violations([plan(("B", 12))], cat, {NIP: {"A"}}, {}, jp_budget=40) == []
    assert plan_violations([plan(("A", 8), ("B", 12))], cat, {}, {}, jp_budget=40) == []


def test_an_ongoing_course_is_never_in_the_path(cat):
    problems = plan_violations([plan(("A", 8))], cat, {}, {NIP: {"A"}}, jp_budget=40)
    assert problems == [f"{NIP} step 1 (A): already completed or ongoing"]


def test_missing_prerequisites_counts_only_completed_or_earlier(cat):
    assert missing_prerequisites(["B"], cat, set()) == {"B": ["A"]}
    assert missing_prerequisites(["B", "A"], cat, set()) == {"B": ["A"]}
    assert missing_prerequisites(["A", "B"], cat, set()) == {}
    assert missing_prerequisites(["B"], cat, {"A"}) == {}
    assert missing_prerequisites(["NOPE", "B"], cat, {"A"}) == {}


def test_planner_states_keep_ongoing_apart_and_paths_wait_for_it():
    # In the tiny dataset STAFF_A attends C01 (ongoing), the prerequisite of C02.
    from tiny_dataset import STAFF_A, tiny_tables

    from features.build import build_features
    from features.plan_input import employee_view
    from model.path_builder import build_paths
    from model.plan_rules import course_history
    from model.planner import employee_states_from_view

    tables = tiny_tables()
    view = employee_view(tables, build_features(tables, pd.Timestamp("2024-06-30")))
    states = {s.nip: s for s in employee_states_from_view(view)}
    assert "C01" in states[STAFF_A].ongoing and "C01" not in states[STAFF_A].completed
    catalog = Catalog.from_frames(
        tables[c.COURSES], tables[c.COURSE_COMPETENCIES], tables[c.COURSE_PREREQUISITES], {}
    )
    paths = build_paths(list(states.values()), {}, catalog, jp_budget=60, min_jp=40)
    plans = [
        {
            c.NIP: s.nip,
            "training_path": [
                {"order": p.order, c.COURSE_ID: p.course_id, c.HOURS_JP: p.hours_jp,
                 "reason_id": p.reason_id, "reason_en": p.reason_en}
                for p in path
            ],
            "total_jp": sum(p.hours_jp for p in path),
        }
        for s, path in zip(states.values(), paths, strict=True)
    ]  # fmt: skip
    completed, ongoing = course_history(view)
    assert plan_violations(plans, catalog, completed, ongoing, jp_budget=60) == []
    by_nip = {p[c.NIP]: [s[c.COURSE_ID] for s in p["training_path"]] for p in plans}
    assert "C02" not in by_nip[STAFF_A] and "C01" not in by_nip[STAFF_A]
