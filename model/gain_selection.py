"""Choose the recommender's gain model by the benefit its plans are estimated to bring.

Every gain prior the ranker fits (`model.ranker.GAIN_PRIORS`) is a candidate. A twin ranker is
fitted on the snapshots whose outcome windows end by the last snapshot date v (nothing after
v), the employees' paths at v are built with each candidate's gains by the path builder, and
the gap those paths close is estimated by `model.benefit.ObservedBenefit` fitted on what was
observed by the end of v's window: the same estimator, on the same kind of time split, as the
promotion gate. The first prior ("band", the simpler) is the champion; another replaces it
only when it closes more and the 95% bootstrap interval (over employees) of the paired
difference lies above zero: a more flexible model fitted on noisy level changes must show
that it helps, not merely tie. Nothing here reads a truth: it works, and is meant to work, on
real data.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from features import columns as c
from features.gap_closure import GAP_CLOSED
from model.benefit import ObservedBenefit, fit_level_drift, judged_levels
from model.path_builder import build_paths
from model.path_catalog import Catalog
from model.path_inputs import paths_to_frame
from model.recommender_inputs import TrainingExamples

#: JP budget and yearly minimum of the selection's paths (the README's plan defaults).
SELECTION_JP_BUDGET = 40


def select_gain_prior(
    recommender: Any,
    examples: TrainingExamples,
    priors: tuple[str, ...],
    stack: Any,
) -> dict[str, Any]:
    """{"chosen": name, "<name>": estimated gap closed per employee, ...} for a fitted
    `recommender` (its parameters, candidate generator and catalog are reused); `stack`
    concatenates example blocks as the recommender does. Without an earlier snapshot or
    outcome evidence, the first prior is chosen and the reason recorded."""
    from model.planner import employee_states_from_view, with_expected_levels

    fallback: dict[str, Any] = {"chosen": priors[0]}
    v = examples.snapshot_dates[-1]
    window = pd.Timedelta(days=examples.horizon_days)
    before = [i for i, d in enumerate(examples.snapshot_dates) if d + window <= v]
    if len(priors) < 2:
        return fallback | {"reason": "one prior"}
    if not before or examples.evidence is None:
        return fallback | {"reason": "no earlier snapshot or no outcome evidence"}
    X_pair, y = stack([examples.pair[i] for i in before])
    X_gain, g = stack([examples.gain[i] for i in before])
    X_level, dl = stack([examples.level[i] for i in before])
    if np.unique(y).size < 2 or np.isfinite(g).sum() < 2:
        return fallback | {"reason": "too few outcomes before the last snapshot"}
    twin = copy.copy(recommender)
    twin.ranker_ = clone(recommender.ranker_).fit(X_pair, y, X_gain, g, X_level, dl)
    twin.courses_ = examples.last_knowledge
    twin.candidates_ = clone(recommender.candidates_).fit(
        examples.last_completed, examples.last_knowledge
    )
    evidence = examples.evidence
    estimator = ObservedBenefit().fit(
        evidence.level_changes, evidence.enrollments, evidence.untrained, evidence.post_tests
    )
    view = examples.last_view
    catalog: Catalog = recommender.catalog_
    # The planner aims its paths from E[level | measured]; the drift is the same for every
    # candidate, so taking it from the evidence favours none.
    drift = fit_level_drift(evidence.untrained)
    states = with_expected_levels(employee_states_from_view(view), drift)
    levels = judged_levels(view.competency)
    nips = [s.nip for s in states]
    out: dict[str, Any] = {}
    closed: dict[str, np.ndarray] = {}
    for name in priors:
        twin.gain_prior_ = name
        candidates = twin.score_candidates(view, catalog)
        paths = build_paths(
            states,
            candidates,
            catalog,
            jp_budget=SELECTION_JP_BUDGET,
            min_jp=min(c.MIN_JP_PER_YEAR, SELECTION_JP_BUDGET),
        )
        per = estimator.gap_closure(paths_to_frame(nips, paths), levels, evidence.bands)
        closed[name] = per[GAP_CLOSED].to_numpy(dtype=float)
        out[name] = float(closed[name].mean()) if len(per) else 0.0
    best = priors[0]
    rng = np.random.default_rng(0)
    for name in priors[1:]:
        low, high = paired_interval(closed[name], closed[priors[0]], rng)
        out[f"{name}_minus_{priors[0]}_ci"] = (low, high)
        if low > 0 and out[name] > out[best]:
            best = name
    return out | {"chosen": best, "validation_date": str(v.date())}


def paired_interval(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n_boot: int = 1000
) -> tuple[float, float]:
    """95% bootstrap interval (over employees) of mean(a - b), a and b per employee."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(diff) == 0:
        return float("nan"), float("nan")
    idx = rng.integers(0, len(diff), size=(n_boot, len(diff)))
    means = diff[idx].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def selection_metrics(recommender: Any) -> dict[str, float]:
    """The choice as MLflow metrics: `gain_selection_est_<prior>` per candidate (estimated gap
    closed per employee on the inner time split), the paired difference's interval, and
    `gain_selection_heterogeneous` (1 when the heterogeneous effects serve)."""
    selection = getattr(recommender, "gain_selection_", None) or {}
    out: dict[str, float] = {}
    for key, value in selection.items():
        if isinstance(value, float):
            out[f"gain_selection_est_{key}"] = value
        elif isinstance(value, tuple) and len(value) == 2:
            out[f"gain_selection_{key}_low"] = float(value[0])
            out[f"gain_selection_{key}_high"] = float(value[1])
    out["gain_selection_heterogeneous"] = float(selection.get("chosen") == "heterogeneous")
    return out
