"""Aggregate one experiment's shards: table, claims, figures, summary.

`python -m repro.aggregate --scale S --experiment E [--results results] [--benchmarks DIR]`

Reads `results/S/E/<shard>/{table.csv,config.yaml,provenance.json}` for every shard of the
experiment and writes, atomically, into `results/S/E/`:

- `table.csv`            the shards' tidy tables, concatenated;
- `figures/<name>.svg`   the experiment's figures, and `figures/captions.json` (name -> caption);
- `claims.json`          one verdict per claim (list of dicts with experiment and scale fields);
- `summary.json`         protocol rows, deviations from the paper (with reasons), runtime and
                         provenance per shard. Written last: its presence means the aggregate is done.

The config is the shards' frozen config: each shard's own section comes from that shard's
`config.yaml`; everything else must agree between shards.
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
from repro.io import read_table, save_figure, write_json, write_table

# a shard's files, as repro.run writes them (not imported from there: it pulls in torch, and the
# report, which reads the names below, needs none)
TABLE, FROZEN_CONFIG, PROVENANCE = "table.csv", "config.yaml", "provenance.json"
CLAIMS_JSON, SUMMARY_JSON, FIGURES_DIR, CAPTIONS_JSON = "claims.json", "summary.json", "figures", "captions.json"
# keys of a frozen config that legitimately differ between the shards of one experiment
PER_SHARD_KEYS = ("shard", "out", "tracking", "experiment.deviations")


class AggregateError(RuntimeError):
    """Bad or missing input for aggregation; the message says what and where."""


def experiment_dir(scale: str, experiment: str, root: str | Path = "results") -> Path:
    return Path(root) / scale / experiment


def outputs(scale: str, experiment: str, root: str | Path = "results") -> dict[str, Path]:
    """The files `aggregate` declares (for the Snakefile); the SVGs beside captions.json vary by experiment."""
    d = experiment_dir(scale, experiment, root)
    return {"table": d / TABLE, "claims": d / CLAIMS_JSON, "summary": d / SUMMARY_JSON,
            "captions": d / FIGURES_DIR / CAPTIONS_JSON}


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


def _section_names(exp_cfg, module) -> dict[str, str]:
    """shard name -> the key of its config section in cfg.experiment (found by identity), if any."""
    fields = {name: getattr(exp_cfg, name) for name in vars(exp_cfg)}
    out = {}
    for shard, part in module.shards(exp_cfg).items():
        keys = [k for k, v in fields.items() if v is part]
        if keys:
            out[shard] = keys[0]
    return out


def _excluded(key: str, prefixes) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def read_shards(scale: str, experiment: str, root: str | Path = "results"):
    """Read every shard; return (module, cfg, {shard: (table, frozen dict, provenance)})."""
    try:
        module = config_mod.experiment_module(experiment)
    except config_mod.ConfigError as e:
        raise AggregateError(str(e)) from None
    if scale not in config_mod.SCALES:
        raise AggregateError(f"unknown scale {scale!r}; valid choices: {', '.join(config_mod.SCALES)}")
    base = experiment_dir(scale, experiment, root)
    if not base.is_dir():
        raise AggregateError(f"no results for {experiment} at scale {scale}: {base} does not exist "
                             f"(run the shards first: python -m repro experiment={experiment} scale={scale})")
    # the shard list comes from the config as composed now; each shard's frozen config is then checked
    try:
        names = list(module.shards(config_mod.compose([f"experiment={experiment}", f"scale={scale}"]).experiment))
    except config_mod.ConfigError as e:
        raise AggregateError(f"cannot compose {experiment} at scale {scale}: {e}") from None
    missing = [n for n in names for f in (TABLE, FROZEN_CONFIG, PROVENANCE) if not (base / n / f).is_file()]
    if missing:
        lacking = sorted({n for n in missing})
        raise AggregateError(f"{experiment} at scale {scale}: shard(s) {', '.join(lacking)} incomplete or missing "
                             f"under {base} (each needs {TABLE}, {FROZEN_CONFIG}, {PROVENANCE})")
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
        got = ((frozen.get("experiment") or {}).get("name"), (frozen.get("scale") or {}).get("name"),
               frozen.get("shard"))
        if got != (experiment, scale, n):
            raise AggregateError(f"{d / FROZEN_CONFIG} is for experiment={got[0]} scale={got[1]} shard={got[2]}, "
                                 f"expected experiment={experiment} scale={scale} shard={n}")
        for col in ("shard", "seed", "step", "metric", "value"):
            if col not in table.columns:
                raise AggregateError(f"{d / TABLE} lacks the column {col!r}")
        shards[n] = (table, frozen, prov)
    cfg = merged_config(module, shards)
    return module, cfg, shards


def merged_config(module, shards: dict) -> config_mod.RunConfig:
    """One config from the shards' frozen configs: each shard's own section from that shard, the rest
    from all of them, which must agree."""
    names = list(shards)
    first = shards[names[0]][1]
    try:
        cfg0 = config_mod.validate(first)
    except config_mod.ConfigError as e:
        raise AggregateError(f"shard {names[0]}: invalid frozen config: {e}") from None
    sections = _section_names(cfg0.experiment, module)
    own = [f"experiment.{s}" for s in sections.values()]
    ref = flatten(first)
    for n in names[1:]:
        other = flatten(shards[n][1])
        keys = sorted(k for k in set(ref) | set(other)
                      if not _excluded(k, (*PER_SHARD_KEYS, *own)) and ref.get(k) != other.get(k))
        if keys:
            diffs = "; ".join(f"{k}: {names[0]}={ref.get(k)!r} vs {n}={other.get(k)!r}" for k in keys[:5])
            raise AggregateError(f"the frozen configs of shards {names[0]} and {n} disagree outside their own "
                                 f"sections ({diffs}); rerun the stale shard")
    merged = json.loads(json.dumps(first))
    merged["shard"] = None
    merged["out"] = None
    deviations = dict(merged["experiment"].get("deviations") or {})
    for n, section in sections.items():
        if n not in shards:
            continue
        exp_n = shards[n][1]["experiment"]
        merged["experiment"][section] = exp_n[section]
        # a reason for a key of this shard's section is taken from the shard that ran it
        for k, v in (exp_n.get("deviations") or {}).items():
            if k == section or k.startswith(section + "."):
                deviations[k] = v
    merged["experiment"]["deviations"] = deviations
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
    full_here, full_there = {"experiment": exp_here, "scale": here["scale"]}, {"experiment": exp_there,
                                                                               "scale": there["scale"]}
    rows: dict[str, dict] = {}
    for leaf in differing:
        rk = _reason_key(leaf, reasons) or leaf
        rows.setdefault(rk, {"key": rk, "value": _lookup(exp_here, rk), "paper": _lookup(exp_there, rk),
                             "reason": reasons.get(rk), "stated": rk in reasons, "differs": True})
    if here["scale"]["seeds"] != there["scale"]["seeds"]:
        k = "scale.seeds" if "scale.seeds" in reasons else "seeds"
        rows[k] = {"key": k, "value": here["scale"]["seeds"], "paper": there["scale"]["seeds"],
                   "reason": reasons.get(k), "stated": k in reasons, "differs": True}
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
            result = {"id": claim.id, "statement": claim.statement, "source": claim.source,
                      "paper_value": claim.paper_value, "rule": claim.rule, "status": "inconclusive",
                      "measured": "n/a", "detail": f"the check failed: {type(e).__name__}: {e}", "error": True}
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


def shard_seeds(module, cfg, shard: str) -> list[int]:
    """The seeds a shard is meant to produce: the experiment's `shard_seeds` hook, else the shard config's own
    `seed`, else all of the scale's seeds."""
    if hasattr(module, "shard_seeds"):
        return list(module.shard_seeds(cfg.experiment, shard, cfg.seeds))
    part = module.shards(cfg.experiment).get(shard)
    if isinstance(part, dict) and "seed" in part:
        return [int(part["seed"])]
    return list(cfg.seeds)


def run_health(module, cfg, shards: dict) -> list[dict]:
    """Per shard: whether it resumed from a checkpoint, and which of its seeds are missing from its table.
    (A loss that turns NaN or inf stops its job with a message naming the point and step, so no diverged point
    reaches a table: a diverged shard is a failed job, and its experiment is not aggregated.)"""
    rows = []
    for n, (table, _frozen, prov) in shards.items():
        expected = shard_seeds(module, cfg, n)
        present = {int(s) for s in pd.to_numeric(table["seed"], errors="coerce").dropna() if s >= 0}
        rows.append({"shard": n, "resumed_from": prov.get("resumed_from"), "seeds": expected,
                     "missing_seeds": [s for s in expected if s not in present]})
    return rows


def aggregate(scale: str, experiment: str, root: str | Path = "results",
              benchmarks: str | Path | None = None) -> Path:
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
        row = {"shard": n, "wall_time_s": prov.get("wall_time_s"), "rows": len(t), "device": prov.get("device"),
               "benchmark_s": None, "max_rss_mb": None}
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
    p.add_argument("--results", default="results", help="results root (default: results)")
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
