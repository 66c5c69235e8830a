"""Turn the drawn arrays into the contract tables (employees, history) and the truth tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from demo_data import truth as dt
from demo_data.arrays import as_dates, take_values
from demo_data.reference import COMP_IDS, METHODS, POS_IDS
from features import columns as c


def employee_frame(people: dict, org: dict) -> pd.DataFrame:
    nip = pa.array(people["nip"], type=pa.string())
    sup = people["supervisor"]
    return pd.DataFrame(
        {
            c.NIP: take_values(nip, np.arange(people["n"])),
            c.NAME: pd.Series(people["name"], dtype="str"),
            c.GENDER: pd.Series(np.where(people["female"], "P", "L"), dtype="str"),
            c.BIRTH_DATE: as_dates(people["birth"]),
            c.TMT_CPNS: as_dates(people["tmt"]),
            c.GOLONGAN: pd.Series(
                np.array(c.GOLONGAN_VALUES, dtype=object)[people["gol_rank"] - 1], dtype="str"
            ),
            c.EDUCATION: pd.Series(people["education"], dtype="str"),
            c.UNIT_ID: pd.Series(org["ids"][people["unit"]], dtype="str"),
            c.POSITION_ID: pd.Series(
                np.array(POS_IDS, dtype=object)[people["position"]], dtype="str"
            ),
            c.SUPERVISOR_NIP: take_values(nip, sup, missing=sup < 0),
            c.ACTIVE: people["active"].astype(bool),
        }
    )


def history_frames(history: dict, nip: pa.Array, catalog: dict) -> dict[str, pd.DataFrame]:
    comp_ids = pa.array(COMP_IDS, type=pa.string())
    course_ids = pa.array(catalog["ids"], type=pa.string())

    def cat_(parts, i):
        return np.concatenate([p[i] for p in parts]) if parts else np.empty(0, dtype=np.int64)

    a = history["assess"]
    methods = pa.array(list(METHODS), type=pa.string())
    assessments = pd.DataFrame(
        {
            c.NIP: take_values(nip, cat_(a, 0)),
            c.COMPETENCY_ID: take_values(comp_ids, cat_(a, 1)),
            c.LEVEL: cat_(a, 2).astype(float),
            c.ASSESSED_ON: as_dates(cat_(a, 3)),
            c.METHOD: take_values(methods, cat_(a, 4)),
        }
    )

    e = history["enroll"]
    pick = {k: np.concatenate([part[k] for part in e]) for k in e[0]}
    statuses = pa.array(["completed", "dropped", "no_show", "ongoing"], type=pa.string())
    enrollments = pd.DataFrame(
        {
            c.NIP: take_values(nip, pick["person"]),
            c.COURSE_ID: take_values(course_ids, pick["course"]),
            c.START_DATE: as_dates(pick["start"]),
            c.END_DATE: as_dates(pick["end"]),
            c.STATUS: take_values(statuses, pick["status"]),
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
            c.MENTOR_NIP: take_values(nip, ms["mentor"]),
            c.MENTEE_NIP: take_values(nip, ms["mentee"]),
            c.COMPETENCY_ID: take_values(comp_ids, ms["focus"]),
            c.START_DATE: as_dates(ms["start"]),
            c.END_DATE: as_dates(ms["end"]),
            c.OUTCOME: outcome,
        }
    )

    r = history["review"]
    expect = np.array(c.EXPECTATION_VALUES, dtype=object)
    result, behavior = expect[cat_(r, 2)], expect[cat_(r, 3)]
    rating = np.array([c.SKP_MATRIX[(x, y)] for x in expect for y in expect], dtype=object)
    reviews = pd.DataFrame(
        {
            c.NIP: take_values(nip, cat_(r, 0)),
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


def truth_frames(nip: pa.Array, traits: dict, catalog: dict, levels: np.ndarray):
    n, n_comp = levels.shape
    rows, slots = catalog["effects_index"]
    course_ids = pd.Series(catalog["ids"], dtype="str")
    comp_ids = np.array(COMP_IDS, dtype=object)
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
            c.NIP: take_values(nip, all_people),
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
            c.NIP: take_values(nip, all_people),
            dt.QUALITY: np.round(traits["mentor_quality"], 4),
            dt.RAPPORT: np.round(traits["mentor_rapport"], 4),
        }
    )
    true_levels = pd.DataFrame(
        {
            c.NIP: take_values(nip, np.repeat(all_people, n_comp)),
            c.COMPETENCY_ID: take_values(pa.array(COMP_IDS), np.tile(np.arange(n_comp), n)),
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
