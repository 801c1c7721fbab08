"""`python -m repro [HYDRA OVERRIDES...]`: run one experiment's shard(s) by hand or from Snakemake.

Examples:
  python -m repro experiment=f_principle scale=smoke seed=1
  python -m repro experiment=f_principle scale=laptop shard=fp3 experiment.fp3.width=512
"""

from __future__ import annotations

import sys

from repro.checkpoint import Preempted
from repro.config import ConfigError, compose
from repro.data import DataMissing
from repro.train import Diverged


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    bad = [a for a in argv if "=" not in a]
    if bad:
        print(f"error: expected Hydra overrides key=value, got {' '.join(bad)}", file=sys.stderr)
        return 2
    try:
        cfg = compose(argv)  # validation happens here, before any compute or write
        from repro.run import run

        run(cfg)
    except (ConfigError, DataMissing) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Diverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except Preempted as e:
        print(f"preempted: {e}; rerun the same command (or Snakemake) to resume", file=sys.stderr)
        return Preempted.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
