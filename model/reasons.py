"""Reason texts shown with every recommendation: Bahasa Indonesia first, English alongside.

Managers and employees read these, so they are short, built from fixed templates (one code per
template, so the UI, tests and translations can refer to them), and never mention a model score.
The Indonesian text is under `id` (ISO 639-1), the English under `en`. Levels are printed as
``2`` or ``2.4``: one decimal only when the level is fractional (360-degree averages).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from features.columns import MIN_JP_RULE_EN, MIN_JP_RULE_ID

#: Template code -> (Bahasa Indonesia, English). Placeholders are filled by the functions below.
TEMPLATES = MappingProxyType(
    {
        "close_gap": (
            "Menutup kesenjangan {competency}: level {current} → {required} yang dipersyaratkan"
            " jabatan.",
            "Closes the gap in {competency}: level {current} → {required} required.",
        ),
        "close_gap_unassessed": (
            "Menutup kesenjangan {competency}: belum diases, jabatan mensyaratkan level"
            " {required}.",
            "Closes the gap in {competency}: not yet assessed, level {required} required.",
        ),
        "prerequisite": (
            "Prasyarat untuk {title}.",
            "Prerequisite for {title}.",
        ),
        "prerequisite_more": (
            "Prasyarat untuk {title} dan {more} pelatihan lainnya.",
            "Prerequisite for {title} and {more} more.",
        ),
        "risk_mode": (
            "Format {mode_id} dipilih karena format ini lebih sering diselesaikan oleh peserta"
            " dengan pola partisipasi serupa.",
            "{mode_en} format chosen because participants with a similar participation pattern"
            " complete it more often.",
        ),
        "risk_short": (
            "Pelatihan singkat ({hours} JP) dipilih karena lebih sering diselesaikan oleh peserta"
            " dengan pola partisipasi serupa.",
            "Short course ({hours} JP) chosen because participants with a similar participation"
            " pattern complete it more often.",
        ),
        "min_jp": (
            "Melengkapi minimal {min_jp} JP pengembangan kompetensi per tahun"
            f" ({MIN_JP_RULE_ID}): {{competency}}.",
            "Completes the minimum of {min_jp} JP of competency development a year"
            f" ({MIN_JP_RULE_EN}): {{competency}}.",
        ),
        "min_jp_general": (
            "Melengkapi minimal {min_jp} JP pengembangan kompetensi per tahun"
            f" ({MIN_JP_RULE_ID}).",
            "Completes the minimum of {min_jp} JP of competency development a year"
            f" ({MIN_JP_RULE_EN}).",
        ),
        "no_gap": (
            "Tidak ada kesenjangan kompetensi untuk jabatan ini; pemeliharaan dan pengembangan"
            " {competency} menuju {min_jp} JP per tahun.",
            "No competency gap for this position; maintaining and developing {competency} toward"
            " {min_jp} JP a year.",
        ),
        "no_gap_general": (
            "Tidak ada kesenjangan kompetensi untuk jabatan ini; pengembangan menuju {min_jp} JP"
            " per tahun.",
            "No competency gap for this position; development toward {min_jp} JP a year.",
        ),
        "mentor_gap": (
            "Mentor di level {mentor} pada {competency}; mentee di level {mentee}, jabatan"
            " mensyaratkan {required}.",
            "Mentor at level {mentor} in {competency}; mentee at level {mentee}, position"
            " requires {required}.",
        ),
        "mentor_gap_unassessed": (
            "Mentor di level {mentor} pada {competency}; mentee belum diases, jabatan"
            " mensyaratkan {required}.",
            "Mentor at level {mentor} in {competency}; mentee not yet assessed, position"
            " requires {required}.",
        ),
        "mentor_development": (
            "Mentor di level {mentor} pada {competency}; mentee di level {mentee}.",
            "Mentor at level {mentor} in {competency}; mentee at level {mentee}.",
        ),
        "risk_plan": (
            "Risiko tidak mengikuti atau tidak menyelesaikan pelatihan tinggi ({risk}%)."
            " Rencana ini mengutamakan format yang lebih sering diselesaikan (blended, coaching,"
            " mentoring, pelatihan singkat) pada {adapted} pelatihan; atasan dianjurkan membahas"
            " rencana ini langsung dengan pegawai.",
            "High risk of skipping or dropping training ({risk}%). This plan prefers formats that"
            " are completed more often (blended, coaching, mentoring, short courses) for"
            " {adapted} course(s); the manager is encouraged to discuss the plan in person.",
        ),
        "mentor_sure": (
            "Hampir pasti level mentor di atas level mentee (peluang {percent}% menurut"
            " riwayat asesmen keduanya).",
            "The mentor is almost certainly above the mentee's level ({percent}% by both"
            " assessment records).",
        ),
        "mentor_likely": (
            "Kemungkinan besar level mentor di atas level mentee (peluang {percent}%;"
            " asesmen masih sedikit atau sudah lama).",
            "The mentor is probably above the mentee's level ({percent}%; few or old assessments).",
        ),
        "same_unit": ("Satu unit kerja.", "Same unit."),
        "other_unit": ("Dari unit kerja lain.", "From another unit."),
    }
)

#: How each course mode is named in each language (contract enum -> (id, en)).
MODE_LABELS = MappingProxyType(
    {
        "klasikal": ("klasikal", "classroom"),
        "e_learning": ("e-learning", "e-learning"),
        "blended": ("blended learning", "blended learning"),
        "workshop": ("lokakarya", "workshop"),
        "seminar": ("seminar", "seminar"),
        "coaching": ("coaching", "coaching"),
        "mentoring": ("mentoring", "mentoring"),
        "magang": ("magang", "internship"),
    }
)


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason: its template code(s), the Indonesian text (`id`) and the English text."""

    code: str
    id: str
    en: str


def format_level(level: float | None) -> str:
    """``2`` for whole levels, ``2.4`` for fractional ones; ``-`` when unknown."""
    if _is_missing(level):
        return "-"
    rounded = round(float(level), 1)  # type: ignore[arg-type]
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def _is_missing(level: object) -> bool:
    """None, NaN and pandas' NA all mean "never assessed"."""
    try:
        return level is None or math.isnan(float(level))  # type: ignore[arg-type]
    except TypeError:
        return True


@functools.lru_cache(maxsize=8192)
def render(code: str, **values: object) -> Reason:
    """Fill template `code` in both languages (kept: paths repeat the same few sentences)."""
    text_id, text_en = TEMPLATES[code]
    return Reason(code, text_id.format(**values), text_en.format(**values))


def close_gap(competency: str, current: float | None, required: float) -> Reason:
    """The course closes (part of) the gap between the current and the required level."""
    if _is_missing(current):
        return render(
            "close_gap_unassessed", competency=competency, required=format_level(required)
        )
    return render(
        "close_gap",
        competency=competency,
        current=format_level(current),
        required=format_level(required),
    )


def prerequisite_for(titles: Sequence[str]) -> Reason:
    """The course is needed before the first of `titles` (the others are counted)."""
    if not titles:
        raise ValueError("a prerequisite reason needs at least one dependent course")
    if len(titles) == 1:
        return render("prerequisite", title=titles[0])
    return render("prerequisite_more", title=titles[0], more=len(titles) - 1)


def mode_label(mode: str, lang: str = "id") -> str:
    """The display name of a course mode in `lang` (``id`` or ``en``)."""
    labels = MODE_LABELS.get(mode, (mode, mode))
    return labels[0] if lang == "id" else labels[1]


def risk_adaptation(mode: str, hours_jp: int, *, low_barrier_mode: bool) -> Reason:
    """The format (or shortness) was preferred because the person risks not completing."""
    if low_barrier_mode:
        label_en = mode_label(mode, "en")
        return render(
            "risk_mode",
            mode_id=mode_label(mode, "id"),
            mode_en=label_en[:1].upper() + label_en[1:],
        )
    return render("risk_short", hours=hours_jp)


def min_jp_fill(competency: str | None, min_jp: int) -> Reason:
    """The course tops the path up to the yearly minimum of JP."""
    if competency is None:
        return render("min_jp_general", min_jp=min_jp)
    return render("min_jp", competency=competency, min_jp=min_jp)


def no_gap_maintenance(competency: str | None, min_jp: int) -> Reason:
    """The employee meets every requirement: the path maintains and develops instead."""
    if competency is None:
        return render("no_gap_general", min_jp=min_jp)
    return render("no_gap", competency=competency, min_jp=min_jp)


def mentor_pair(
    competency: str,
    mentor_level: float,
    mentee_level: float | None,
    required_level: float | None = None,
    *,
    same_unit: bool | None = None,
    confidence: float | None = None,
) -> Reason:
    """Why a mentor fits a mentee in `competency`: the two levels, the requirement, the unit,
    and how sure it is that the mentor is really ahead (`confidence`, a probability)."""
    mentor = format_level(mentor_level)
    if _is_missing(required_level):
        reason = render(
            "mentor_development",
            mentor=mentor,
            competency=competency,
            mentee=format_level(mentee_level),
        )
    elif _is_missing(mentee_level):
        reason = render(
            "mentor_gap_unassessed",
            mentor=mentor,
            competency=competency,
            required=format_level(required_level),
        )
    else:
        reason = render(
            "mentor_gap",
            mentor=mentor,
            competency=competency,
            mentee=format_level(mentee_level),
            required=format_level(required_level),
        )
    parts = [reason]
    if confidence is not None:
        parts.append(mentor_confidence(confidence))
    if same_unit is not None:
        parts.append(render("same_unit" if same_unit else "other_unit"))
    return parts[0] if len(parts) == 1 else combine(parts)


def mentor_confidence(probability: float) -> Reason:
    """How sure the pairing is that the mentor's real level is above the mentee's."""
    percent = min(int(math.floor(100 * probability)), 99)
    if probability >= 0.97:
        return render("mentor_sure", percent=percent)
    return render("mentor_likely", percent=percent)


def risk_plan_note(risk: float, adapted: int) -> tuple[str, str]:
    """What a plan does for someone likely to skip or drop training (the inclusive approach)."""
    reason = render("risk_plan", risk=round(100 * risk), adapted=adapted)
    return reason.id, reason.en


def combine(parts: Iterable[Reason]) -> Reason:
    """Several reasons read as consecutive sentences; codes joined with ``+``."""
    parts = list(parts)
    if not parts:
        raise ValueError("nothing to combine")
    if len(parts) == 1:
        return parts[0]
    return Reason(
        "+".join(p.code for p in parts),
        " ".join(p.id for p in parts),
        " ".join(p.en for p in parts),
    )
