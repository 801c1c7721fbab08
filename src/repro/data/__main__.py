"""Build one dataset file: `python -m repro.data FAMILY PARAMS_JSON OUT` (used by Snakemake's data rule)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from repro.data import FAMILIES, DataMissing, DataRef, family


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m repro.data", description=__doc__)
    p.add_argument("family", choices=FAMILIES)
    p.add_argument("params", help="JSON object of generation parameters")
    p.add_argument("out", type=Path)
    a = p.parse_args(argv)
    ref = DataRef(a.family, json.loads(a.params))
    if a.out.name != f"{ref.key}.npz":
        p.error(f"{a.out} does not match the parameters (expected file name {ref.key}.npz)")
    try:
        family(a.family).build(ref.params, a.out)
    except (DataMissing, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
