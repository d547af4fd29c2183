"""Run every benchmark in bench/ in turn (each writes its JSON to bench/results/).

    python bench/run_all.py [--only ops,convert]

Benchmarks are not tests: they time the 2-core CPU targets named in the issues and
leave the figures for the README and the issue notes. Run them on an idle machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("ops", "depth", "cache", "stabilise", "dvg", "learned_depth", "convert", "convert_profile", "session",
           "edits", "xr", "farm", "refiner")
# the studio's two need an X display (without one they re-run themselves under xvfb-run)
BENCHES += ("studio", "studio_stall")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(BENCHES))
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHES)
    failed = []
    for name in chosen:
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            print(f"== {name}: no {script.name}, skipped")
            continue
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(name)
        print(f"== {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
