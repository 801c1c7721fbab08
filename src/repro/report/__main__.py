"""`python -m repro.report --scale S --experiments E1 [E2 ...] --out reports/S/index.html [--results results]`

Renders the aggregated results (`python -m repro.aggregate`) of the given experiments at one scale
into one self-contained HTML page: claims and verdicts, figures (inline SVG), protocol, deviations
from the papers, runtime and provenance. No network access, at build time or when opened.
"""

from __future__ import annotations

import argparse
import sys

from repro.paths import RESULTS
from repro.report.html import ReportError, build


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m repro.report", description=__doc__.split("\n\n")[1])
    p.add_argument("--scale", required=True)
    p.add_argument("--experiments", required=True, nargs="+", metavar="EXPERIMENT")
    p.add_argument("--out", required=True, help="the HTML file to write, e.g. reports/<scale>/index.html")
    p.add_argument("--results", default=RESULTS, help=f"results root (default: {RESULTS})")
    args = p.parse_args(argv)
    try:
        out = build(args.scale, args.experiments, args.out, args.results)
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"[report] wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
