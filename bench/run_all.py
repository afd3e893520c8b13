"""Run every benchmark and print a summary of the figures against their targets.

    .venv/bin/python bench/run_all.py [--quick]

Each benchmark runs in its own process (a fresh interpreter and fresh
databases), its output streamed as it comes; the summary at the end repeats
every line that carries a target. ``--quick`` runs smaller sizes (a smoke run
of the scripts, not figures to quote).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHES = [
    ("posting", ["posting.py"], ["posting.py", "--docs", "20"]),
    ("queries", ["queries.py"], ["queries.py", "--moves", "100000", "--history-moves", "500",
                                 "--receipts-per-warehouse", "4", "--repeat", "7"]),
]


def run(args: list[str]) -> tuple[int, list[str], float]:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-u", *args], cwd=HERE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line.rstrip("\n"))
    return proc.wait(), lines, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()
    summary, failed = [], False
    for name, full, quick in BENCHES:
        print(f"\n##### bench/{name}.py", flush=True)
        code, lines, secs = run(quick if args.quick else full)
        failed |= code != 0
        summary.append(f"bench/{name}.py: {'exit ' + str(code) if code else 'ok'} in {secs:.0f} s")
        section = ""
        for line in lines:
            if line.startswith("=="):
                section = line.strip("= ").split(" (")[0]
                summary.append(f"  {section}")
            elif any(m in line for m in ("[target", "[MET]", "[MISSED]", "[no target]",
                                         "verify()", "bulk load", "SQL only",
                                         "posting on this database", "(no target here")):
                summary.append("  " + line.strip())
    print("\n##### summary")
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"(other work on the machine skews the figures)")
    print("\n".join(summary))
    missed = sum("MISSED" in s for s in summary)
    print(f"targets missed: {missed}" if missed else "every target met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
