"""Where everything lives, and the digests that name it: the one module that run, aggregate, report,
checkpoint, plan and the Snakemake rules use. No torch here, so the report and the rules import it cheaply.

    results/<scale>/<experiment>/<shard>/{table.csv, config.yaml, provenance.json}   one shard's outputs
    results/<scale>/<experiment>/.<shard>.scratch/                                   its resume checkpoints
    results/<scale>/<experiment>/{table.csv, claims.json, summary.json, figures/}    the aggregate
    results/<scale>/<experiment>/{logs, benchmarks}/<shard>.{log,tsv}                Snakemake's per job
    reports/<scale>/index.html                                                       the report
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

RESULTS, REPORTS = "results", "reports"
# a shard's files (table last: its presence means the shard is complete)
TABLE, FROZEN_CONFIG, PROVENANCE = "table.csv", "config.yaml", "provenance.json"
SHARD_FILES = (TABLE, FROZEN_CONFIG, PROVENANCE)
# an experiment's aggregate (summary last: its presence means the aggregate is complete)
CLAIMS_JSON, SUMMARY_JSON, FIGURES_DIR, CAPTIONS_JSON = "claims.json", "summary.json", "figures", "captions.json"
LOGS_DIR, BENCHMARKS_DIR = "logs", "benchmarks"


def experiment_dir(scale: str, experiment: str, root: str | Path = RESULTS) -> Path:
    return Path(root) / scale / experiment


def shard_dir(scale: str, experiment: str, shard: str, root: str | Path = RESULTS) -> Path:
    return experiment_dir(scale, experiment, root) / shard


def scratch_dir(out: str | Path) -> Path:
    """A shard's checkpoints: beside its output directory, never inside it (Snakemake deletes the declared
    outputs of a failed job, and the checkpoints must survive that)."""
    out = Path(out)
    return out.with_name(f".{out.name}.scratch")


def aggregate_outputs(scale: str, experiment: str, root: str | Path = RESULTS) -> dict[str, Path]:
    """The files the aggregate declares; the SVGs beside captions.json vary by experiment."""
    d = experiment_dir(scale, experiment, root)
    return {
        "table": d / TABLE,
        "claims": d / CLAIMS_JSON,
        "summary": d / SUMMARY_JSON,
        "captions": d / FIGURES_DIR / CAPTIONS_JSON,
    }


def report_page(scale: str, root: str | Path = REPORTS) -> Path:
    return Path(root) / scale / "index.html"


def digest(obj, length: int = 12) -> str:
    """A short stable hash of a JSON-able object (config parts, dataset parameters)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
