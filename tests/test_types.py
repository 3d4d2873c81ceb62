"""mypy on rules/ and the connector, run by the one test command (issue 30 item 4; ISSUE-NOTES:
"One test command").

setuptools' editable finder hides the mapped folders from mypy, so mypy reads a view built here:
`jsm_autopilot/` with a link per package to its folder, taken from pyproject.toml's
`[tool.setuptools.package-dir]` so that the two cannot drift apart. The settings are pyproject's
`[tool.mypy]`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("jsm_autopilot.rules", "jsm_autopilot.connector")


def build_view(root: Path, view: Path) -> None:
    """The import tree pyproject's package-dir maps, made of links to the repository's folders."""
    mapping = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    for package, folder in sorted(mapping.items(), key=lambda item: item[0].count(".")):
        where = view.joinpath(*package.split("."))
        if "." in package:
            where.symlink_to(root / folder, target_is_directory=True)
        else:
            # The top package: its own files, beside the links of the subpackages.
            where.mkdir(parents=True)
            for entry in (root / folder).iterdir():
                if entry.is_file():
                    (where / entry.name).symlink_to(entry)


def test_mypy_finds_no_errors_in_rules_and_the_connector(tmp_path):
    view = tmp_path / "view"
    build_view(ROOT, view)
    arguments = [argument for package in PACKAGES for argument in ("-p", package)]
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache"),
         *arguments],
        capture_output=True, text=True, cwd=view, env={**os.environ, "MYPYPATH": str(view)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
