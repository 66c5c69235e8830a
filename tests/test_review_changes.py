"""The rules a manager's change must keep, on a hand-written catalog with exact answers."""

from __future__ import annotations

from test_path_builder import catalog

from serving.services.review_changes import course_change_problems, resulting_path

#: A -> B (B needs A); C and D stand alone; X is no longer offered.
CATALOG = catalog(
    [("A", "klasikal", 8, True), ("B", "klasikal", 8, True), ("C", "daring", 4, True),
     ("D", "daring", 4, True), ("X", "daring", 4, False)],
    [("A", "PP", 1, 2), ("B", "PP", 2, 3), ("C", "INT", 1, 2), ("D", "KS", 1, 2),
     ("X", "DT", 1, 2)],
    [("B", "A")],
)  # fmt: skip
PATH = ["A", "B"]


def problems(changes: dict, completed=(), ongoing=()) -> list[tuple[str, int | None, str]]:
    found = course_change_problems(PATH, changes, CATALOG, set(completed), set(ongoing))
    return [(p.field, p.index, p.value if isinstance(p.value, str) else "") for p in found]


def test_a_valid_change_gives_no_problem_and_its_path():
    change = {"add_course_ids": ["C"], "course_order": ["C", "A", "B"]}
    assert problems(change) == []
    assert resulting_path(PATH, change) == ["C", "A", "B"]
    assert problems({"remove_course_ids": ["B"]}) == []  # dropping the dependent is fine


def test_each_refused_course_is_named_with_its_position():
    assert problems({"add_course_ids": ["C", "NOPE", "X", "A", "C"]}) == [
        ("add_course_ids", 4, "C"),  # listed twice
        ("add_course_ids", 1, "NOPE"),  # not in the catalog
        ("add_course_ids", 2, "X"),  # inactive
        ("add_course_ids", 3, "A"),  # already in the plan
    ]
    assert problems({"add_course_ids": ["C"]}, completed={"C"}) == [("add_course_ids", 0, "C")]
    assert problems({"add_course_ids": ["D"]}, ongoing={"D"}) == [("add_course_ids", 0, "D")]
    assert problems({"remove_course_ids": ["C"]}) == [("remove_course_ids", 0, "C")]
    assert problems({"remove_course_ids": ["A"], "add_course_ids": ["A"]}) == [
        ("add_course_ids", 0, "A")
    ]


def test_course_order_must_be_the_resulting_path():
    assert problems({"course_order": ["A"]}) == [("course_order", None, "")]
    assert problems({"course_order": ["A", "B", "C"]}) == [("course_order", None, "")]
    assert problems({"course_order": ["A", "B", "B"]})[0] == ("course_order", 2, "B")


def test_prerequisites_stay_before_their_courses():
    assert problems({"course_order": ["B", "A"]}) == [("course_order", None, "B")]
    assert problems({"remove_course_ids": ["A"]}) == [("remove_course_ids", None, "B")]
    assert problems({"remove_course_ids": ["A"]}, completed={"A"}) == []


def test_only_breaks_the_change_introduces_are_reported():
    broken = ["B"]  # an old edit left B without A
    found = course_change_problems(broken, {"add_course_ids": ["C"]}, CATALOG, set(), set())
    assert found == []
