"""The contract's reference tables (competencies, positions, requirements) from the hand-written
catalogue, and the index maps over its ids that every drawing step shares.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo_data import catalog as cat
from features import columns as c

COMP_IDS = [cid for cid, _, _ in cat.COMPETENCIES]


COMP_INDEX = {cid: i for i, cid in enumerate(COMP_IDS)}


POS_IDS = [p.position_id for p in cat.POSITIONS]


POS_INDEX = {pid: i for i, pid in enumerate(POS_IDS)}


MODE_INDEX = {m: i for i, m in enumerate(c.COURSE_MODES)}


EDU_INDEX = {e: i for i, e in enumerate(c.EDUCATION_VALUES)}


def reference_tables():
    competencies = pd.DataFrame(
        {
            c.COMPETENCY_ID: pd.Series(COMP_IDS, dtype="str"),
            c.NAME: pd.Series([name for _, name, _ in cat.COMPETENCIES], dtype="str"),
            c.KIND: pd.Series([kind for _, _, kind in cat.COMPETENCIES], dtype="str"),
        }
    )
    positions = pd.DataFrame(
        {
            c.POSITION_ID: pd.Series(POS_IDS, dtype="str"),
            c.TITLE: pd.Series([p.title for p in cat.POSITIONS], dtype="str"),
            c.CATEGORY: pd.Series([p.category for p in cat.POSITIONS], dtype="str"),
            c.GRADE: np.array([p.grade for p in cat.POSITIONS], dtype=np.int64),
        }
    )
    req = np.zeros((len(cat.POSITIONS), len(COMP_IDS)), dtype=np.int64)
    for i, pos in enumerate(cat.POSITIONS):
        for cid in cat.MANAGERIAL_IDS + cat.SOCIO_CULTURAL_IDS:
            req[i, COMP_INDEX[cid]] = pos.managerial_level
        for cid, level in pos.technical:
            req[i, COMP_INDEX[cid]] = level
    rows, cols = np.nonzero(req)
    requirements = pd.DataFrame(
        {
            c.POSITION_ID: pd.Series(np.array(POS_IDS)[rows], dtype="str"),
            c.COMPETENCY_ID: pd.Series(np.array(COMP_IDS)[cols], dtype="str"),
            c.REQUIRED_LEVEL: req[rows, cols],
        }
    )
    return competencies, positions, requirements, req.astype(float)


#: Assessment methods: which competencies they cover, bias, noise and rounding step.
METHODS = {
    "assessment_center": ("managerial", 0.0, 0.35, 1.0),
    "uji_kompetensi": ("technical", 0.0, 0.4, 1.0),
    "penilaian_360": ("managerial", 0.15, 0.3, 0.01),
    "mandiri": ("all", 0.45, 0.5, 1.0),
}
