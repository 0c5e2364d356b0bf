"""How the studio window holds up while it trains: the app rows of `genstudio bench`.

    python -m genstudio.bench.responsiveness [--seconds 8] [--repeats 3] [--only gan] [--json FILE]

For each family on its default data: steps/s inside the app (offscreen) / steps/s of the same config
run headless (alternating, median of the repeats); the lateness of a 10 ms GUI timer while the app
trains at full speed (p50 / p95 / max); the timeline's scrub latency; and process start to first
window shown and to the first trained sample. Goals: ratio >= 0.95,
p95 <= 8 ms, max <= 33 ms, window <= 0.5 s. `genstudio bench` measures the same and more.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import replace

from genstudio.bench.bench import FULL, report, section_app, section_startup


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", action="append", help="family (repeatable)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    budget = replace(FULL, app_s=args.seconds, app_repeats=args.repeats)
    rows = itertools.chain(section_app(budget, {"overhead", "responsiveness", "interaction"}, args.only),
                           section_startup(budget))
    report(f"GenStudio responsiveness, {args.seconds:g} s per measurement, median of {args.repeats}", rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
