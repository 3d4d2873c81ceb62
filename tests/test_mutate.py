"""The mutation script (tests/mutate.py) itself: a planted mutant is killed by a test that pins the
boundary and survives one that does not; "no tests" counts as surviving; the module is restored."""

from __future__ import annotations

from tests.mutate import mutants_of, mutated, run

PLANTED = "def over(limit, value):\n    return value > limit\n"


def write(tmp_path, test_body: str):
    module = tmp_path / "planted.py"
    module.write_text(PLANTED, encoding="utf-8")
    test = tmp_path / "test_planted.py"
    test.write_text(f"from planted import over\n\n\ndef test_over():\n    {test_body}\n", encoding="utf-8")
    return module, test


def test_the_mutants_of_a_comparison_and_a_constant():
    source = "LIMIT = 3\n\n\ndef due(days):\n    \"\"\"Not mutated: a docstring.\"\"\"\n    return days >= LIMIT and not False\n"
    assert [m.description for m in mutants_of(source)] == ["3->4", "And->Or", "op0:GtE->Gt", "not dropped", "False->True"]
    assert "days > LIMIT" in mutated(source, mutants_of(source)[2])


def test_a_test_that_pins_the_boundary_kills_the_planted_mutant(tmp_path):
    module, test = write(tmp_path, "assert over(1, 2) and not over(1, 1)")
    result = run(module, [test], timeout=60)
    assert (result.mutants, result.killed, result.survivors) == (1, 1, [])
    assert module.read_text(encoding="utf-8") == PLANTED


def test_a_test_that_misses_the_boundary_lets_it_survive_and_no_tests_count_as_survivors(tmp_path):
    module, test = write(tmp_path, "assert over(1, 2)")
    result = run(module, [test], timeout=60)
    assert result.killed == 0 and [(m.description, why) for m, why in result.survivors] == [("op0:Gt->GtE", "survived")]
    unchecked = run(module, [], timeout=60)
    assert unchecked.score == 0 and [why for _, why in unchecked.survivors] == ["no tests"]
    assert module.read_text(encoding="utf-8") == PLANTED


def test_the_plan_measures_every_module_of_the_core_and_the_webhook_parsing_with_tests_that_exist():
    from tests.mutate import PLAN, ROOT

    core = {path.relative_to(ROOT).as_posix() for path in (ROOT / "rules").glob("*.py") if path.name != "__init__.py"}
    assert set(PLAN) == core | {"webhooks/delivery.py"}
    missing = [name for files, _ in PLAN.values() for name in files if not (ROOT / "tests" / name).is_file()]
    assert missing == []
