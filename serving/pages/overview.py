"""Filtering, sorting and paging the unit overview, from the query string (pure).

Unknown or malformed parameters are ignored rather than refused: a manager who edits a URL by
hand gets the unfiltered list, not an error page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from serving.pages.talent_box import BOXES
from serving.pages.unit_view import MemberRow
from serving.services.plans import STATUSES

#: Sort key -> (value of a row, default direction). Missing values always sort last.
SORTS: dict[str, tuple[Any, str]] = {
    "gap": (lambda r: r.max_gap, "desc"),
    "jp": (lambda r: r.jp_year, "asc"),
    "risk": (lambda r: r.risk, "desc"),
    "name": (lambda r: r.name.casefold(), "asc"),
    "status": (lambda r: STATUSES.index(r.status) if r.status in STATUSES else None, "asc"),
    "box": (lambda r: r.box, "desc"),
}
DEFAULT_SORT = "gap"


@dataclass(frozen=True)
class OverviewQuery:
    q: str = ""
    status: str = ""
    behind: bool = False
    risk: str = ""
    box: int | None = None
    unit: str = ""
    sort: str = DEFAULT_SORT
    dir: str = ""
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> OverviewQuery:
        def integer(name: str) -> int | None:
            try:
                return int(params.get(name, ""))
            except ValueError:
                return None

        box = integer("box")
        sort = params.get("sort", DEFAULT_SORT)
        return cls(
            q=params.get("q", "").strip()[:100],
            status=params.get("status", "") if params.get("status") in STATUSES else "",
            behind=params.get("behind") in ("1", "true", "on"),
            risk="high" if params.get("risk") == "high" else "",
            box=box if box in BOXES else None,
            unit=params.get("unit", "")[:64],
            sort=sort if sort in SORTS else DEFAULT_SORT,
            dir=params.get("dir", "") if params.get("dir") in ("asc", "desc") else "",
            page=max(integer("page") or 1, 1),
        )

    @property
    def direction(self) -> str:
        return self.dir or SORTS[self.sort][1]

    def params(self) -> dict[str, Any]:
        """The query as URL parameters (defaults left out), for links that keep the filters."""
        values = asdict(self)
        values["behind"] = "1" if self.behind else None
        values["page"] = None if self.page == 1 else self.page
        values["sort"] = None if self.sort == DEFAULT_SORT else self.sort
        return {k: v for k, v in values.items() if v not in (None, "")}

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.status or self.behind or self.risk or self.box or self.unit)


def filter_rows(rows: Sequence[MemberRow], query: OverviewQuery) -> list[MemberRow]:
    needle = query.q.casefold()
    out = []
    for row in rows:
        if needle and needle not in row.name.casefold() and needle not in row.nip:
            continue
        if query.status and row.status != query.status:
            continue
        if query.behind and not row.behind:
            continue
        if query.risk == "high" and not row.risk_high:
            continue
        if query.box is not None and row.box != query.box:
            continue
        if query.unit and row.unit_id != query.unit:
            continue
        out.append(row)
    return out


def sort_rows(rows: Sequence[MemberRow], query: OverviewQuery) -> list[MemberRow]:
    """Sorted by the query's key and direction; ties by name; missing values last."""
    key, _ = SORTS[query.sort]
    by_name = sorted(rows, key=lambda r: (r.name.casefold(), r.nip))
    present = [r for r in by_name if key(r) is not None]
    missing = [r for r in by_name if key(r) is None]
    present.sort(key=key, reverse=query.direction == "desc")
    return present + missing


@dataclass(frozen=True)
class Page:
    rows: list[MemberRow]
    number: int
    count: int
    total: int


def paginate(rows: Sequence[MemberRow], page: int, size: int) -> Page:
    count = max(1, -(-len(rows) // size))
    number = min(max(page, 1), count)
    start = (number - 1) * size
    return Page(list(rows[start : start + size]), number, count, len(rows))
