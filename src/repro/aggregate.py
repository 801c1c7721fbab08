"""Aggregate one experiment's shards: table, claims, figures, summary.

`python -m repro.aggregate --scale S --experiment E [--results results] [--benchmarks DIR]`

Reads `results/S/E/<shard>/{table.csv,config.yaml,provenance.json}` for every shard of the
experiment and writes, atomically, into `results/S/E/`:

- `table.csv`            the shards' tidy tables, concatenated;
- `figures/<name>.svg`   the experiment's figures, and `figures/captions.json` (name -> caption);
- `claims.json`          one verdict per claim (list of dicts with experiment and scale fields);
- `summary.json`         protocol rows, deviations from the paper (with reasons), runtime and
                         provenance per shard. Written last: its presence means the aggregate is done.

The config is conf/ as it is now, with each config key a shard declares (`Shard.keys`) taken from the
frozen `config.yaml` of the shards that read it: those must agree, and so must their seeds. A key no
shard reads affects only the aggregate, whose digest covers the whole experiment config.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd
import yaml

from repro import config as config_mod
from repro.experiments import lookup
from repro.io import read_table, save_figure, write_json, write_table
from repro.paths import (
    CAPTIONS_JSON,
    CLAIMS_JSON,
    FIGURES_DIR,
    FROZEN_CONFIG,
    PROVENANCE,
    RESULTS,
    SHARD_FILES,
    SUMMARY_JSON,
    TABLE,
    experiment_dir,
)


class AggregateError(RuntimeError):
    """Bad or missing input for aggregation; the message says what and where."""


# ---------------------------------------------------------------- reading shards


def flatten(d: dict, prefix: str = "") -> dict[str, object]:
    """Nested dicts to dotted keys; lists and scalars are leaves."""
    out: dict[str, object] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def read_shards(scale: str, experiment: str, root: str | Path = RESULTS):
    """Read every shard; return (module, cfg, {shard: (table, frozen dict, provenance)})."""
    try:
        module = config_mod.experiment_module(experiment)
    except config_mod.ConfigError as e:
        raise AggregateError(str(e)) from None
    if scale not in config_mod.SCALES:
        raise AggregateError(f"unknown scale {scale!r}; valid choices: {', '.join(config_mod.SCALES)}")
    base = experiment_dir(scale, experiment, root)
    if not base.is_dir():
        raise AggregateError(
            f"no results for {experiment} at scale {scale}: {base} does not exist "
            f"(run the shards first: python -m repro experiment={experiment} scale={scale})"
        )
    # the shard list comes from the config as composed now; each shard's frozen config is then checked
    try:
        current = config_mod.compose([f"experiment={experiment}", f"scale={scale}"])
        names = list(module.shards(current.experiment))
    except config_mod.ConfigError as e:
        raise AggregateError(f"cannot compose {experiment} at scale {scale}: {e}") from None
    missing = [n for n in names for f in SHARD_FILES if not (base / n / f).is_file()]
    if missing:
        lacking = sorted({n for n in missing})
        raise AggregateError(
            f"{experiment} at scale {scale}: shard(s) {', '.join(lacking)} incomplete or missing "
            f"under {base} (each needs {TABLE}, {FROZEN_CONFIG}, {PROVENANCE})"
        )
    shards = {}
    for n in names:
        d = base / n
        try:
            frozen = yaml.safe_load((d / FROZEN_CONFIG).read_text())
            prov = json.loads((d / PROVENANCE).read_text())
            table = read_table(d / TABLE)
        except (OSError, ValueError, yaml.YAMLError, pd.errors.ParserError) as e:
            raise AggregateError(f"cannot read shard {d}: {e}") from None
        if not isinstance(frozen, dict):
            raise AggregateError(f"{d / FROZEN_CONFIG} is not a config mapping")
        got = (
            (frozen.get("experiment") or {}).get("name"),
            (frozen.get("scale") or {}).get("name"),
            frozen.get("shard"),
        )
        if got != (experiment, scale, n):
            raise AggregateError(
                f"{d / FROZEN_CONFIG} is for experiment={got[0]} scale={got[1]} shard={got[2]}, "
                f"expected experiment={experiment} scale={scale} shard={n}"
            )
        for col in ("shard", "seed", "step", "metric", "value"):
            if col not in table.columns:
                raise AggregateError(f"{d / TABLE} lacks the column {col!r}")
        shards[n] = (table, frozen, prov)
    cfg = merged_config(module, shards, current)
    return module, cfg, shards


def _frozen_value(frozen: dict, key: str):
    try:
        return lookup(frozen.get("experiment") or {}, key)
    except KeyError:
        return "<absent>"


def _seeds(frozen: dict) -> tuple:
    return (
        frozen.get("seed"),
        (frozen.get("scale") or {}).get("seeds"),
        (frozen.get("experiment") or {}).get("first_seed"),
    )


def merged_config(module, shards: dict, current: config_mod.RunConfig) -> config_mod.RunConfig:
    """conf/ as now (`current`), with every key a shard declares taken from the shards that read it.

    Shards that read the same key, or that ran different seeds, must agree; otherwise one of them is stale
    and the error names it. Keys that no shard reads come from `current`."""
    names = list(shards)
    specs = module.shards(current.experiment)
    taken: dict[str, tuple[str, object]] = {}  # key -> (first shard that read it, its value)
    seeds0 = _seeds(shards[names[0]][1])
    for n in names:
        frozen = shards[n][1]
        if _seeds(frozen) != seeds0:
            raise AggregateError(
                f"shards {names[0]} and {n} ran different seeds (seed, scale.seeds, first_seed: "
                f"{seeds0} vs {_seeds(frozen)}); rerun the stale shard"
            )
        # compared leaf by leaf, so that a section one shard reads and a value in it another reads meet
        leaves: dict[str, object] = {}
        for k in specs[n].keys:
            v = _frozen_value(frozen, k)
            leaves.update(flatten(v, k + ".") if isinstance(v, dict) and v else {k: v})
        for key, value in leaves.items():
            if key in taken and taken[key][1] != value:
                first, v0 = taken[key]
                raise AggregateError(
                    f"the frozen configs of shards {first} and {n} disagree on experiment.{key}, "
                    f"which both read ({first}={v0!r} vs {n}={value!r}); rerun the stale shard"
                )
            taken.setdefault(key, (n, value))
    merged = config_mod.to_dict(current)
    for key, (_n, value) in taken.items():
        *parents, leaf = key.split(".")
        node = merged["experiment"]
        for p in parents:
            node = node[p]
        node[leaf] = value
    seed, merged["scale"]["seeds"], merged["experiment"]["first_seed"] = seeds0
    merged["seed"] = seed
    try:
        return config_mod.validate(merged)
    except config_mod.ConfigError as e:
        raise AggregateError(f"the shards' frozen configs do not merge into a valid config: {e}") from None


def concat_tables(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Union of the shards' columns: shard first, point columns in order of appearance, then the tidy ones."""
    table = pd.concat(tables, ignore_index=True, sort=False)
    tail = ["seed", "step", "metric", "value"]
    head = ["shard"] + [c for c in table.columns if c not in ("shard", *tail)]
    return table[head + tail]


# ---------------------------------------------------------------- summary


def _lookup(d: dict, dotted: str):
    cur = d
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _reason_key(key: str, reasons: dict[str, str]) -> str | None:
    """The deviations entry that explains `key`: itself, or its longest dotted prefix."""
    parts = key.split(".")
    for i in range(len(parts), 0, -1):
        k = ".".join(parts[:i])
        if k in reasons:
            return k
    return None


def deviations(cfg: config_mod.RunConfig, paper: config_mod.RunConfig, stated: dict | None = None) -> list[dict]:
    """Rows (key, value, paper, reason, stated) of what differs from the paper's protocol.

    Config values that differ from scale=paper are grouped under the deviations entry that explains
    them (or listed leaf by leaf and flagged when none does). Deviations stated without a differing
    value (e.g. another dataset at every scale) are listed too.
    """
    here, there = config_mod.to_dict(cfg), config_mod.to_dict(paper)
    # the paper-scale preset states what differs at every scale (e.g. another dataset); this scale adds its own
    here_reasons = cfg.experiment.deviations if stated is None else stated
    reasons = {**(paper.experiment.deviations or {}), **(here_reasons or {})}
    exp_here = {k: v for k, v in here["experiment"].items() if k not in ("deviations", "name")}
    exp_there = {k: v for k, v in there["experiment"].items() if k not in ("deviations", "name")}
    a, b = flatten(exp_here), flatten(exp_there)
    differing = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    full_here, full_there = (
        {"experiment": exp_here, "scale": here["scale"]},
        {"experiment": exp_there, "scale": there["scale"]},
    )
    rows: dict[str, dict] = {}
    for leaf in differing:
        rk = _reason_key(leaf, reasons) or leaf
        rows.setdefault(
            rk,
            {
                "key": rk,
                "value": _lookup(exp_here, rk),
                "paper": _lookup(exp_there, rk),
                "reason": reasons.get(rk),
                "stated": rk in reasons,
                "differs": True,
            },
        )
    if here["scale"]["seeds"] != there["scale"]["seeds"]:
        k = "scale.seeds" if "scale.seeds" in reasons else "seeds"
        rows[k] = {
            "key": k,
            "value": here["scale"]["seeds"],
            "paper": there["scale"]["seeds"],
            "reason": reasons.get(k),
            "stated": k in reasons,
            "differs": True,
        }
    for k, reason in reasons.items():
        if k not in rows:
            v = _lookup(full_here, k) if k.startswith("scale.") else _lookup(exp_here, k)
            p = _lookup(full_there, k) if k.startswith("scale.") else _lookup(exp_there, k)
            rows[k] = {"key": k, "value": v, "paper": p, "reason": reason, "stated": True, "differs": v != p}
    return [rows[k] for k in sorted(rows)]


def read_benchmark(path: Path) -> dict | None:
    """Snakemake's benchmark TSV (`s`, `max_rss` in MB, ...): the mean over its repeats."""
    if not path.is_file():
        return None
    try:
        b = pd.read_csv(path, sep="\t")
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise AggregateError(f"cannot read benchmark {path}: {e}") from None
    out = {}
    for col in ("s", "max_rss"):
        if col in b.columns:
            v = pd.to_numeric(b[col], errors="coerce").mean()
            out[col] = None if pd.isna(v) else round(float(v), 3)
    return out


def _json_safe(obj):
    """NaN/inf to None (JSON has neither), recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


# ---------------------------------------------------------------- aggregate


def evaluate_claims(module, table: pd.DataFrame, cfg, experiment: str, scale: str) -> list[dict]:
    out = []
    for claim in module.CLAIMS:
        try:
            result = claim.evaluate(table, cfg)
        except Exception as e:  # noqa: BLE001  a bug in a check: inconclusive and loud, never a pass
            print(f"warning: claim {claim.id}: check raised {type(e).__name__}: {e}", file=sys.stderr)
            result = {
                **claim.describe(),
                "status": "inconclusive",
                "rule_status": "inconclusive",
                "measured": "n/a",
                "detail": f"the check failed: {type(e).__name__}: {e}",
                "error": True,
            }
        result.update(experiment=experiment, scale=scale)
        out.append(_json_safe(result))
    return out


def render_figures(module, table: pd.DataFrame, cfg, out_dir: Path) -> dict[str, str]:
    figs = module.figures(table, cfg)
    captions: dict[str, str] = {}
    for f in figs:
        if f.name in captions:
            raise AggregateError(f"two figures are named {f.name!r}")
        save_figure(out_dir / f"{f.name}.svg", f.fig)
        captions[f.name] = f.caption
    for stale in out_dir.glob("*.svg") if out_dir.is_dir() else []:
        if stale.stem not in captions:
            stale.unlink()
    write_json(out_dir / CAPTIONS_JSON, {"order": list(captions), "captions": captions})
    return captions


def run_health(module, cfg, shards: dict) -> list[dict]:
    """Per shard: whether it resumed from a checkpoint, and which of its seeds are missing from its table.
    (A loss that turns NaN or inf stops its job with a message naming the point and step, so no diverged point
    reaches a table: a diverged shard is a failed job, and its experiment is not aggregated.)"""
    rows = []
    for n, (table, _frozen, prov) in shards.items():
        expected = list(module.shard_seeds(cfg.experiment, n, cfg.seeds))
        present = {int(s) for s in pd.to_numeric(table["seed"], errors="coerce").dropna() if s >= 0}
        rows.append(
            {
                "shard": n,
                "resumed_from": prov.get("resumed_from"),
                "seeds": expected,
                "missing_seeds": [s for s in expected if s not in present],
            }
        )
    return rows


def aggregate(scale: str, experiment: str, root: str | Path = RESULTS, benchmarks: str | Path | None = None) -> Path:
    module, cfg, shards = read_shards(scale, experiment, root)
    out = experiment_dir(scale, experiment, root)
    table = concat_tables([t for t, _, _ in shards.values()])
    try:
        paper = config_mod.compose([f"experiment={experiment}", "scale=paper"])
        # the reasons come from conf/ as it is now: editing one reruns the aggregate (its digest covers the
        # whole experiment config) but no shard, so the shards' frozen copies may be older
        current = config_mod.compose([f"experiment={experiment}", f"scale={scale}"])
    except config_mod.ConfigError as e:
        raise AggregateError(f"cannot compose {experiment} at scale=paper: {e}") from None
    captions = render_figures(module, table, cfg, out / FIGURES_DIR)
    write_table(out / TABLE, table)
    write_json(out / CLAIMS_JSON, evaluate_claims(module, table, cfg, experiment, scale))
    runtime = []
    for n, (t, _, prov) in shards.items():
        row = {
            "shard": n,
            "wall_time_s": prov.get("wall_time_s"),
            "rows": len(t),
            "device": prov.get("device"),
            "benchmark_s": None,
            "max_rss_mb": None,
        }
        bench = read_benchmark(Path(benchmarks) / f"{n}.tsv") if benchmarks else None
        if bench:
            row["benchmark_s"], row["max_rss_mb"] = bench.get("s"), bench.get("max_rss")
        runtime.append(row)
    summary = {
        "health": run_health(module, cfg, shards),
        "experiment": experiment,
        "scale": scale,
        "doc": (module.__doc__ or "").strip(),
        "seeds": cfg.seeds,
        "protocol": module.protocol(cfg) if hasattr(module, "protocol") else [],
        "deviations": deviations(cfg, paper, current.experiment.deviations),
        "runtime": runtime,
        "provenance": {n: prov for n, (_, _, prov) in shards.items()},
        "figures": list(captions),
    }
    write_json(out / SUMMARY_JSON, _json_safe(summary))  # last: its presence means the aggregate is complete
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m repro.aggregate", description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", required=True, help=f"one of {', '.join(config_mod.SCALES)}")
    p.add_argument("--experiment", required=True, help="an experiment in conf/experiment/")
    p.add_argument("--results", default=RESULTS, help=f"results root (default: {RESULTS})")
    p.add_argument("--benchmarks", default=None, help="dir of Snakemake benchmark files <shard>.tsv")
    args = p.parse_args(argv)
    try:
        out = aggregate(args.scale, args.experiment, args.results, args.benchmarks)
    except (AggregateError, config_mod.ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"[aggregate] wrote {out}/{{{TABLE},{CLAIMS_JSON},{SUMMARY_JSON},{FIGURES_DIR}/}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
