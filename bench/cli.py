"""How long the `jsm-autopilot` command takes to start: `--help` and `--version`, as a person types them.

Run: .venv/bin/python -m bench.cli [--runs 5]

Each is run as a new process (the installed entry point), so imports count as a user feels them.
Goal (issue 16): under 1 s each. The figure is the median of the runs, with the peak memory of the
slowest run (maximum resident set size of the child, from the kernel).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "jsm-autopilot"


def measure(arguments: list[str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(SCRIPT), *arguments], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return statistics.median(times), peak_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(f"{'command':<26}{'median s':>10}{'peak MiB':>10}")
    worst = 0.0
    for arguments in (["--help"], ["--version"]):
        seconds, peak = measure(arguments, runs)
        worst = max(worst, seconds)
        print(f"{'jsm-autopilot ' + ' '.join(arguments):<26}{seconds:>10.2f}{peak:>10.0f}")
    print(f"slowest start: {worst:.2f} s (goal < 1 s: {'met' if worst < 1 else 'NOT met'})")


if __name__ == "__main__":
    main()
