"""What the pages show besides the plans: names, position titles, the course catalog as HR
wrote it, and the JP each employee completed this calendar year.

The serving state carries only what the models need (no names), so the pages read these from
the dataset folder the state was loaded from, once per loaded state, off the request path when
the state is swapped in (`DirectoryCache.warm`).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import columns as c
from features.io import read_tables

logger = logging.getLogger("kompeten.serving")


@dataclass(frozen=True)
class Directory:
    """Lookups by NIP and course id for one loaded dataset."""

    year: int
    names: Mapping[str, str]
    positions: Mapping[str, str]
    golongan: Mapping[str, str]
    jp_year: Mapping[str, float]
    competency_names: Mapping[str, str]
    courses: pd.DataFrame  # indexed by course_id: title, provider, mode, hours_jp, active
    course_competencies: pd.DataFrame
    course_info: Mapping[str, Mapping[str, Any]]

    def name(self, nip: str) -> str:
        return self.names.get(nip, nip)

    def competency(self, competency_id: str) -> str:
        return self.competency_names.get(competency_id, competency_id)

    def course(self, course_id: str) -> Mapping[str, Any] | None:
        """Catalog row of a course in step shape (None if unknown). Shared: do not modify."""
        return self.course_info.get(course_id)


def jp_in_year(
    enrollments: pd.DataFrame, courses: pd.DataFrame, as_of: pd.Timestamp
) -> dict[str, float]:
    """JP of courses completed from 1 January of `as_of`'s year up to `as_of`, per NIP."""
    start = pd.Timestamp(year=as_of.year, month=1, day=1)
    end = enrollments[c.END_DATE]
    done = (
        (enrollments[c.STATUS] == "completed").to_numpy(dtype=bool, na_value=False)
        & (end >= start).to_numpy(dtype=bool, na_value=False)
        & (end <= as_of).to_numpy(dtype=bool, na_value=False)
    )
    rows = enrollments.loc[done]
    hours = pd.Series(
        courses[c.HOURS_JP].to_numpy(dtype=np.float64), index=courses[c.COURSE_ID].astype(str)
    )
    jp = hours.reindex(rows[c.COURSE_ID].astype(str)).fillna(0.0).to_numpy()
    totals = pd.Series(jp).groupby(rows[c.NIP].astype(str).to_numpy()).sum()
    return {str(k): float(v) for k, v in totals.items()}


def build_directory(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> Directory:
    """The directory of a typed dataset at `as_of` (pure)."""
    employees = tables[c.EMPLOYEES]
    nips = employees[c.NIP].astype(str)
    titles = dict(
        zip(
            tables[c.POSITIONS][c.POSITION_ID].astype(str),
            tables[c.POSITIONS][c.TITLE].astype(str),
            strict=True,
        )
    )
    courses = tables[c.COURSES].copy()
    courses[c.COURSE_ID] = courses[c.COURSE_ID].astype(str)
    bands = tables[c.COURSE_COMPETENCIES]
    competencies = (
        bands[c.COMPETENCY_ID].astype(str).groupby(bands[c.COURSE_ID].astype(str)).agg(list)
    )
    info = {
        cid: {
            c.COURSE_ID: cid,
            c.TITLE: str(title),
            c.HOURS_JP: int(hours),
            c.MODE: str(mode),
            c.PROVIDER: str(provider),
            c.ACTIVE: bool(active),
            "competency_ids": list(competencies.get(cid, [])),
        }
        for cid, title, hours, mode, provider, active in zip(
            courses[c.COURSE_ID],
            courses[c.TITLE],
            courses[c.HOURS_JP],
            courses[c.MODE],
            courses[c.PROVIDER],
            courses[c.ACTIVE],
            strict=True,
        )
    }
    return Directory(
        year=int(as_of.year),
        names=dict(zip(nips, employees[c.NAME].astype(str), strict=True)),
        positions={
            nip: titles.get(str(pos), str(pos))
            for nip, pos in zip(nips, employees[c.POSITION_ID], strict=True)
        },
        golongan=dict(zip(nips, employees[c.GOLONGAN].astype(str), strict=True)),
        jp_year=jp_in_year(tables[c.ENROLLMENTS], tables[c.COURSES], as_of),
        competency_names=dict(
            zip(
                tables[c.COMPETENCIES][c.COMPETENCY_ID].astype(str),
                tables[c.COMPETENCIES][c.NAME].astype(str),
                strict=True,
            )
        ),
        courses=courses.set_index(c.COURSE_ID, drop=False).rename_axis(None),
        course_competencies=bands.reset_index(drop=True),
        course_info=info,
    )


def load_directory(folder: Path, as_of: pd.Timestamp) -> Directory:
    """Read the dataset folder (blocking) and build its directory."""
    read = read_tables(folder)
    return build_directory(read.tables, as_of)


class DirectoryCache:
    """One directory per serving state, built once (concurrent callers wait for the first)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._entries: weakref.WeakKeyDictionary[Any, Directory] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def cached(self, state: Any) -> Directory | None:
        return self._entries.get(state)

    def get(self, state: Any) -> Directory:
        """The directory of `state` (blocking the first time: call from a worker thread)."""
        found = self._entries.get(state)
        if found is not None:
            return found
        with self._lock:
            found = self._entries.get(state)
            if found is None:
                found = load_directory(self.folder, state.as_of)
                self._entries[state] = found
        return found

    def warm(self, state: Any) -> None:
        """State-swap listener: build the new state's directory before the first page asks."""
        try:
            self.get(state)
        except Exception:  # pages then report it; a reload must not fail because of this
            logger.exception("could not read names and titles for the manager pages")
