"""The 9-box talent map of Permenpan RB 3/2020 (Manajemen Talenta ASN), as pure computation.

Two axes, three bands each:
- kinerja (performance): the SKP rating as a score (`features.columns.RATING_SCORE`, 5 =
  sangat baik, 4 = baik): the mean over the last three reviewed years, or the latest rating
  when that is all there is;
- potensi (potential): how far the assessed competencies reach what the position requires,
  the mean of current / required level over the required competencies that were assessed.
  The regulation measures potential with its own instruments (intellectual capacity,
  learning agility, ...); competency fulfilment is the proxy the HR data contract carries.

Cut-offs are agency policy (`BoxCuts`, configured in `Settings.pages`, see `box_cuts`). An employee
without an SKP rating or without any assessed required competency is not placed in a box.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from features import columns as c
from features.competency import CURRENT_LEVEL, REQUIRED
from features.evaluation import SKP_LATEST, SKP_MEAN_LAST3
from features.settings import PagesSettings

KINERJA = "kinerja"
POTENSI = "potensi"
KINERJA_BAND = "kinerja_band"
POTENSI_BAND = "potensi_band"
BOX = "box"
BOX_COLUMNS = (c.NIP, KINERJA, POTENSI, KINERJA_BAND, POTENSI_BAND, BOX)

#: Band index -> name (0 = rendah / low, 1 = menengah / middle, 2 = tinggi / high).
BANDS = ("rendah", "menengah", "tinggi")
#: Box number by [potensi band][kinerja band], as the regulation draws the grid: box 1 is low
#: on both axes, box 9 high on both, box 6 is high potential with performance below
#: expectations and box 4 performance above expectations with low potential.
BOX_GRID = ((1, 2, 4), (3, 5, 7), (6, 8, 9))
BOXES = tuple(range(1, 10))


@dataclass(frozen=True)
class BoxCuts:
    """Where the bands change: a score below `low` is rendah, at or above `high` tinggi.

    Defaults: kinerja below 3.5 is, on average, under 'baik' (below expectations) and from 4.5
    mostly 'sangat baik'; potensi below 0.9 means the competencies are on average under 90 % of
    the position's requirement, from 1.1 at least 10 % above it.
    """

    kinerja: tuple[float, float] = (3.5, 4.5)
    potensi: tuple[float, float] = (0.9, 1.1)

    def __post_init__(self) -> None:
        for name in (KINERJA, POTENSI):
            low, high = getattr(self, name)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(
                    f"{name} cut-offs must be finite with low < high, got {low}, {high}"
                )


def box_cuts(pages: PagesSettings) -> BoxCuts:
    """The agency's cut-offs as configured (`KOMPETEN_PAGES_KINERJA_CUTS` / `_POTENSI_CUTS`)."""
    return BoxCuts(kinerja=pages.kinerja_cuts, potensi=pages.potensi_cuts)


@dataclass(frozen=True)
class BoxAdvice:
    """What a box means and the follow-up attached to it, in both languages."""

    box: int
    kinerja_band: int
    potensi_band: int
    follow_up_id: str
    follow_up_en: str


# The follow-ups of Permenpan RB 3/2020 (Lampiran, rekomendasi tindak lanjut per kotak):
# boxes 1, 7 and 8 in its words, the others condensed for managers; boxes 7, 8 and 9 form the
# talent pool (kelompok rencana suksesi). The agency's own talent-management decree is
# authoritative where it differs. Sources: docs/domain.md.
_FOLLOW_UP = {
    9: (
        "Dipertahankan dan dipromosikan; masuk kelompok rencana suksesi (talent pool); "
        "dapat diberi penghargaan.",
        "Retain and promote; include in the succession pool (talent pool); may be recognised.",
    ),
    8: (
        "Dipertahankan; masuk kelompok rencana suksesi (talent pool); rotasi/perluasan "
        "jabatan; bimbingan kinerja.",
        "Retain; include in the succession pool (talent pool); rotation/job enlargement; "
        "performance coaching.",
    ),
    7: (
        "Dipertahankan; masuk kelompok rencana suksesi (talent pool); rotasi/pengayaan "
        "jabatan; pengembangan kompetensi; tugas belajar.",
        "Retain; include in the succession pool (talent pool); rotation/job enrichment; "
        "competency development; study assignment (tugas belajar).",
    ),
    6: (
        "Penempatan yang sesuai dengan potensinya; bimbingan dan konseling kinerja.",
        "Placement that fits the potential; performance coaching and counselling.",
    ),
    5: (
        "Penempatan yang sesuai; bimbingan kinerja; pengembangan kompetensi.",
        "Suitable placement; performance coaching; competency development.",
    ),
    4: (
        "Rotasi; pengembangan kompetensi.",
        "Rotation; competency development.",
    ),
    3: (
        "Bimbingan dan konseling kinerja; pengembangan kompetensi; penempatan yang sesuai.",
        "Performance coaching and counselling; competency development; suitable placement.",
    ),
    2: (
        "Bimbingan kinerja; pengembangan kompetensi; penempatan yang sesuai.",
        "Performance coaching; competency development; suitable placement.",
    ),
    1: (
        "Diproses sesuai ketentuan peraturan perundang-undangan.",
        "Handled in accordance with the applicable laws and regulations.",
    ),
}


def _advice() -> Mapping[int, BoxAdvice]:
    out = {}
    for p, row in enumerate(BOX_GRID):
        for k, box in enumerate(row):
            out[box] = BoxAdvice(box, k, p, *_FOLLOW_UP[box])
    return MappingProxyType(out)


#: Box number -> its bands and follow-up.
ADVICE: Mapping[int, BoxAdvice] = _advice()


def band_of(values: np.ndarray | pd.Series, cuts: tuple[float, float]) -> np.ndarray:
    """Band index per value (0, 1, 2); -1 where the value is missing."""
    x = np.asarray(values, dtype=np.float64)
    low, high = cuts
    out = np.where(x < low, 0, np.where(x < high, 1, 2))
    return np.where(np.isnan(x), -1, out).astype(np.int64)


def kinerja_scores(employees: pd.DataFrame) -> pd.Series:
    """SKP score per NIP: mean of the last three years, else the latest rating (NaN: none)."""
    mean = employees[SKP_MEAN_LAST3].to_numpy(dtype=np.float64, na_value=np.nan)
    latest = employees[SKP_LATEST].to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.where(np.isnan(mean), latest, mean)
    return pd.Series(values, index=pd.Index(employees[c.NIP].astype(str), name=c.NIP))


def potensi_scores(competency: pd.DataFrame, nips: pd.Index | None = None) -> pd.Series:
    """Mean of current / required level over the assessed required competencies, per NIP."""
    required = competency[REQUIRED].to_numpy(dtype=bool, na_value=False)
    level = competency[CURRENT_LEVEL].to_numpy(dtype=np.float64, na_value=np.nan)
    need = competency[c.REQUIRED_LEVEL].to_numpy(dtype=np.float64, na_value=np.nan)
    ok = required & ~np.isnan(level) & (need > 0)
    ratio = pd.Series(level[ok] / need[ok])
    scores = ratio.groupby(competency[c.NIP].astype(str).to_numpy()[ok]).mean()
    scores.index.name = c.NIP
    return scores if nips is None else scores.reindex(nips)


def talent_boxes(
    employees: pd.DataFrame, competency: pd.DataFrame, cuts: BoxCuts | None = None
) -> pd.DataFrame:
    """One row per employee (employees order): both scores, both bands and the box.

    `box` is a nullable integer, missing when either score is.
    """
    cuts = cuts or BoxCuts()
    kinerja = kinerja_scores(employees)
    potensi = potensi_scores(competency, kinerja.index)
    k_band = band_of(kinerja.to_numpy(), cuts.kinerja)
    p_band = band_of(potensi.to_numpy(), cuts.potensi)
    grid = np.asarray(BOX_GRID, dtype=np.int64)
    placed = (k_band >= 0) & (p_band >= 0)
    box = pd.Series(grid[np.maximum(p_band, 0), np.maximum(k_band, 0)], dtype="Int64")
    return pd.DataFrame(
        {
            c.NIP: kinerja.index.to_numpy(dtype=object),
            KINERJA: kinerja.to_numpy(),
            POTENSI: potensi.to_numpy(dtype=np.float64),
            KINERJA_BAND: k_band,
            POTENSI_BAND: p_band,
            BOX: box.mask(~placed).array,
        }
    ).astype({c.NIP: "str"})


def box_counts(boxes: pd.DataFrame) -> dict[int, int]:
    """Employees per box, every box 1..9 present (zero when empty)."""
    counts = boxes[BOX].dropna().astype(int).value_counts()
    return {b: int(counts.get(b, 0)) for b in BOXES}


def box_members(boxes: pd.DataFrame) -> dict[int, list[str]]:
    """NIPs per box (input order), every box 1..9 present."""
    out: dict[int, list[str]] = {b: [] for b in BOXES}
    for nip, box in zip(boxes[c.NIP].tolist(), boxes[BOX].tolist(), strict=True):
        if box is not pd.NA and box is not None:
            out[int(box)].append(str(nip))
    return out
