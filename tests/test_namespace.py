"""Issue 30: one namespace. The card's folders stay at the top of the repository, and every name the
wheel installs is under `jsm_autopilot` (pyproject's package-dir maps each folder in)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT

FOLDERS = ("cli", "config", "connector", "console", "rules", "sandbox", "service", "store", "webhooks")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Built as CI's rule for tests says: no network, no build isolation; from a copy of the
    files git knows or would (not the ignored ones), since setuptools would add whatever an earlier build
    left in build/lib."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
    tracked = listed.stdout.decode().split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
                   check=True, capture_output=True)
    [built] = out.glob("jsm_autopilot-*.whl")
    return built


def test_the_wheel_installs_only_jsm_autopilot(wheel):
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"jsm_autopilot"}
    inside = {name.split("/")[1] for name in zipfile.ZipFile(wheel).namelist() if name.startswith("jsm_autopilot/") and name.count("/") > 1}
    assert set(FOLDERS) <= inside
    entry_points = next(zipfile.ZipFile(wheel).read(n).decode() for n in zipfile.ZipFile(wheel).namelist() if n.endswith("entry_points.txt"))
    assert "jsm-autopilot = jsm_autopilot.cli.main:run" in entry_points


def test_from_the_installed_wheel_the_old_top_level_names_are_gone(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    probe = ("import importlib.util, sys\n"
             f"print([n for n in {FOLDERS!r} if importlib.util.find_spec(n) is not None])\n"
             "import jsm_autopilot.rules.catalogue as c; print(c.__file__)")
    # -I: neither the working directory nor the user's site; only the installed wheel and the venv.
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r})\n" + probe],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    missing_old, catalogue = done.stdout.splitlines()
    assert missing_old == "[]" and catalogue.startswith(str(site))


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_no_code_imports_a_folder_by_its_old_top_level_name():
    offenders = [f"{path.relative_to(ROOT)}: {name}"
                 for folder in (*FOLDERS, "tests", "bench") if (ROOT / folder).is_dir()
                 for path in (ROOT / folder).rglob("*.py")
                 for name in _imports(path) if name.split(".")[0] in FOLDERS]
    assert offenders == []
