"""Mutation testing: does a test fail when the code is subtly wrong? (issue 30)

    python -m tests.mutate rules/timers.py [rules/sla.py ...] [--tests tests/test_timers.py ...]
    python -m tests.mutate --plan [rules/sla.py ...]     # the modules of PLAN, each with its tests

Each mutant changes one thing in one module: a comparison (`<` and `<=`, `>` and `>=`, `==` and
`!=`, `in` and `not in`, `is` and `is not`), `and` and `or`, a `not` dropped, `+` and `-`, an
integer constant off by one, `True` and `False`. The module is rewritten in place with the mutant,
the tests run (`pytest -x`), and the original is put back, whatever happens. A mutant the tests do
not fail on survives; so does one that had no test to run, or that ran out of time ("not
checked"): a score is never flattered by what was not tried.

Without `--tests`, the tests are those whose text names the module (`jsm_autopilot.rules.timers`).
Prints the score per module and every survivor with its line, so that each can be killed by a
test or explained.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.And: ast.Or, ast.Or: ast.And,
    ast.Add: ast.Sub, ast.Sub: ast.Add,
}


@dataclass(frozen=True)
class Mutant:
    index: int  # which mutation site, in ast.walk order
    line: int
    description: str


@dataclass
class Result:
    module: str
    mutants: int = 0
    killed: int = 0
    survivors: list[tuple[Mutant, str]] | None = None

    @property
    def score(self) -> float:
        return self.killed / self.mutants if self.mutants else 1.0


def _docstrings(tree: ast.AST) -> set[int]:
    """Constants that are docstrings: changing them changes nothing worth a test."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            found.add(id(body[0].value))
    return found


def _sites(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """Every node a mutant can change, with what the change is."""
    skip = _docstrings(tree)
    sites: list[tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for position, op in enumerate(node.ops):
                if type(op) in SWAPS:
                    sites.append((node, f"op{position}:{type(op).__name__}->{SWAPS[type(op)].__name__}"))
        elif isinstance(node, ast.BoolOp) and type(node.op) in SWAPS:
            sites.append((node, f"{type(node.op).__name__}->{SWAPS[type(node.op)].__name__}"))
        elif isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
            sites.append((node, f"{type(node.op).__name__}->{SWAPS[type(node.op)].__name__}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            sites.append((node, "not dropped"))
        elif isinstance(node, ast.Constant) and id(node) not in skip:
            if isinstance(node.value, bool):
                sites.append((node, f"{node.value}->{not node.value}"))
            elif isinstance(node.value, int):
                sites.append((node, f"{node.value}->{node.value + 1}"))
    return sites


class _Apply(ast.NodeTransformer):
    def __init__(self, target: ast.AST, description: str):
        self.target, self.description = target, description

    def visit(self, node):
        if node is not self.target:
            return self.generic_visit(node)
        if isinstance(node, ast.Compare):
            position = int(self.description.split(":")[0][2:])
            node.ops[position] = SWAPS[type(node.ops[position])]()
        elif isinstance(node, (ast.BoolOp, ast.BinOp)):
            node.op = SWAPS[type(node.op)]()
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node.value, bool):
            node.value = not node.value
        else:
            node.value = node.value + 1
        return node


def mutants_of(source: str) -> list[Mutant]:
    return [Mutant(index, getattr(node, "lineno", 0), description) for index, (node, description) in enumerate(_sites(ast.parse(source)))]


def mutated(source: str, mutant: Mutant) -> str:
    tree = ast.parse(source)
    node, description = _sites(tree)[mutant.index]
    return ast.unparse(ast.fix_missing_locations(_Apply(node, description).visit(tree)))


# Tests that need no sandbox and run in seconds, so that each mutant can run them again.
PURE = "not sandbox and not evaluate_prints and not stemming_from_many and not labelled_replies and not written_not_generated"
RULE_TESTS = ("test_reclassify.py", "test_timers.py", "test_sla.py", "test_escalation.py", "test_delivery_rules.py", "test_hours.py",
              "test_explain.py", "test_confirm.py", "test_triage.py", "test_oncall.py", "test_who_is_the_customer.py",
              "test_catalogue.py", "test_model.py", "test_actions.py", "test_calendar.py", "test_reply_reading.py")
# What `--plan` measures: each module with the tests that pin it (files under tests/, a -k filter).
PLAN: dict[str, tuple[tuple[str, ...], str]] = {
    "rules/actions.py": (("test_actions.py", *RULE_TESTS, "test_plan.py"), PURE),
    "rules/catalogue.py": (("test_catalogue.py", *RULE_TESTS, "test_plan.py", "test_architecture.py", "test_settings.py"), PURE),
    "rules/clock.py": (("test_calendar.py", "test_timers.py", "test_timer_properties.py"), PURE),
    "rules/deliveries.py": (("test_delivery_rules.py",), PURE),
    "rules/escalation.py": (("test_escalation.py",), PURE),
    "rules/explain.py": (("test_explain.py",), PURE),
    "rules/feedback.py": (("test_reply_reading.py", "test_confirm.py", "test_escalation.py"), PURE),
    "rules/hours.py": (("test_hours.py", "test_calendar.py"), PURE),
    "rules/model.py": (("test_model.py", *RULE_TESTS, "test_mapping.py"), PURE),
    "rules/oncall.py": (("test_oncall.py",), PURE),
    "rules/overrides.py": (("test_rule_overrides.py",), PURE),
    "rules/reclassify.py": (("test_reclassify.py", "test_who_is_the_customer.py"), PURE),
    "rules/sla.py": (("test_sla.py",), PURE),
    "rules/timers.py": (("test_timers.py", "test_timer_properties.py", "test_hours.py"), PURE),
    "rules/triage.py": (("test_triage.py",), PURE),
    "rules/verdicts.py": (("test_verdicts.py",), PURE),
    "rules/wording.py": (("test_calendar.py", "test_timers.py", "test_reclassify.py", "test_sla.py"), PURE),
    "webhooks/delivery.py": (("test_webhook_receiver.py",), PURE),
}


def tests_naming(module: Path) -> list[Path]:
    dotted = "jsm_autopilot." + ".".join(module.resolve().relative_to(ROOT).with_suffix("").parts)
    return sorted(path for path in (ROOT / "tests").glob("test_*.py") if dotted in path.read_text(encoding="utf-8"))


def run(module: Path, tests: list[Path], timeout: float, python: str = sys.executable, select: str | None = None) -> Result:
    original = module.read_text(encoding="utf-8")
    result = Result(str(module), survivors=[])
    assert result.survivors is not None
    found = mutants_of(original)
    result.mutants = len(found)
    if not tests:
        result.survivors = [(m, "no tests") for m in found]
        return result
    try:
        for mutant in found:
            module.write_text(mutated(original, mutant), encoding="utf-8")
            command = [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *map(str, tests),
                       *(["-m", "not sandbox", "-k", select] if select else [])]
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
            except subprocess.TimeoutExpired:
                result.survivors.append((mutant, "not checked (time out)"))
                continue
            if done.returncode == 0:
                result.survivors.append((mutant, "survived"))
            elif done.returncode in (1,):  # a test failed
                result.killed += 1
            else:  # collection error, interrupted, usage: nothing was checked
                result.survivors.append((mutant, f"not checked (pytest exit {done.returncode})"))
    finally:
        module.write_text(original, encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", type=Path)
    parser.add_argument("--tests", nargs="*", type=Path, default=None, help="tests to run (default: those naming the module)")
    parser.add_argument("--plan", action="store_true", help="every module of PLAN (or those given) with its tests")
    parser.add_argument("--timeout", type=float, default=120, help="seconds for one mutant's tests")
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    results = []
    modules = arguments.modules or ([Path(name) for name in PLAN] if arguments.plan else parser.error("name a module, or --plan"))
    for module in modules:
        select = None
        if arguments.plan:
            files, select = PLAN[module.as_posix()]
            tests = [ROOT / "tests" / name for name in files]
        else:
            tests = arguments.tests if arguments.tests is not None else tests_naming(module)
        result = run(module, tests, arguments.timeout, select=select)
        results.append(result)
        print(f"{module}: {result.killed}/{result.mutants} mutants killed ({result.score:.0%}) by {len(tests)} test file(s)", flush=True)
        for mutant, why in result.survivors or []:
            print(f"  {why}: line {mutant.line}: {mutant.description}", flush=True)
    killed, total = sum(r.killed for r in results), sum(r.mutants for r in results)
    print(f"all: {killed}/{total} killed ({killed / total if total else 1:.0%}) in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
