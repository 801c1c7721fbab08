"""Every experiment against the one contract (`repro.experiments.Experiment`): a new experiment is checked
here without anyone writing its plumbing tests."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import shutil
from datetime import date

import pandas as pd
import pytest
import yaml

from repro import config as config_mod
from repro.aggregate import aggregate
from repro.claims import Claim, Status
from repro.data import DataRef
from repro.experiments import Experiment, Shard, lookup
from repro.paths import CLAIMS_JSON, TABLE, experiment_dir
from repro.run import TIDY_COLUMNS, run

EXPERIMENTS = config_mod.available_experiments()
STATUSES = {s.value for s in Status}
PATH_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@pytest.fixture(params=EXPERIMENTS)
def name(request) -> str:
    return request.param


def test_the_registry_is_the_conf_directory():
    assert EXPERIMENTS, "no experiment in conf/experiment/"
    for e in EXPERIMENTS:
        assert config_mod.experiment_module(e).__name__ == f"repro.experiments.{e}"


def test_module_provides_every_hook(name):
    module = config_mod.experiment_module(name)
    assert isinstance(module, Experiment), [
        h
        for h in (
            "Config",
            "RESUMABLE",
            "CLAIMS",
            "shards",
            "shard_seeds",
            "datasets",
            "run_shard",
            "figures",
            "protocol",
        )
        if not hasattr(module, h)
    ]
    assert isinstance(module.RESUMABLE, bool)
    fields = {f.name for f in dataclasses.fields(module.Config)}
    assert {"name", "deviations", "first_seed"} <= fields


@pytest.mark.parametrize("scale", config_mod.SCALES)
def test_config_composes_and_shards_are_declared(name, scale):
    cfg = config_mod.compose([f"experiment={name}", f"scale={scale}"])
    module = config_mod.experiment_module(name)
    assert cfg.experiment.name == name
    assert cfg.seeds[0] == cfg.experiment.first_seed and len(cfg.seeds) == cfg.scale.seeds
    shards = module.shards(cfg.experiment)
    assert shards, f"{name} at {scale} has no shards"
    for shard, spec in shards.items():
        assert PATH_SAFE.match(shard), f"shard name {shard!r} is not path-safe"
        assert isinstance(spec, Shard) and spec.keys, f"shard {shard} declares no config keys"
        for key in spec.keys:
            lookup(cfg.experiment, key)  # KeyError names a declared key the config lacks
        json.dumps(dict(spec.point))  # the point goes into the digest
        refs = module.datasets(cfg.experiment, shard)
        assert all(isinstance(r, DataRef) for r in refs)
        assert set(module.shard_seeds(cfg.experiment, shard, cfg.seeds)) <= set(cfg.seeds) or shard_has_own_seed(spec)
    rows = module.protocol(cfg)
    assert rows and all({"key", "value"} <= set(r) for r in rows)


def shard_has_own_seed(spec: Shard) -> bool:
    """Paper-scale shards of one network × seed carry that seed in their point."""
    return "seed" in spec.point


def test_claims_are_well_formed(name):
    claims = config_mod.experiment_module(name).CLAIMS
    ids = [c.id for c in claims]
    assert claims and len(ids) == len(set(ids)), f"claim ids of {name} are not unique: {ids}"
    for c in claims:
        assert isinstance(c, Claim) and c.statement and c.source and c.rule, c.id
        for p in c.preconditions:
            assert p.text and p.remedy, f"{c.id}: a precondition needs its text and what would test the claim"
        for r in c.history:
            date.fromisoformat(r.date)
            assert r.old_rule and r.old_verdict and r.reason, (
                f"{c.id}: a revision needs its old rule, old verdict and reason"
            )
            assert r.old_rule != c.rule or r.reason, c.id


def _first_leaf(d: dict, skip: set[str], prefix: str = "") -> str:
    """The dotted path of the first value in a protocol that is not a section (nor one of `skip`)."""
    for k, v in d.items():
        if k in skip:
            continue
        if isinstance(v, dict) and v:
            return _first_leaf(v, skip, f"{prefix}{k}.")
        return prefix + k
    raise AssertionError("a protocol with no values")


def _drop(d: dict, dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        d = d.get(p) or {}
    d.pop(leaf, None)


def test_a_value_missing_from_conf_is_an_error_naming_it(name, tmp_path, monkeypatch):
    """conf/ is the one source of every value: remove one from the protocol and every preset, and composing stops
    with the key's name (no dataclass default fills it in silently)."""
    shutil.copytree(config_mod.conf_dir(), tmp_path / "conf")
    files = [tmp_path / "conf/experiment" / f"{name}.yaml", *sorted((tmp_path / "conf/preset" / name).glob("*.yaml"))]
    # free-form mappings (dataset parameters) have no schema to miss a key
    free = {
        f.name for f in dataclasses.fields(config_mod.experiment_module(name).Config) if str(f.type).startswith("dict")
    }
    key = _first_leaf(yaml.safe_load(files[0].read_text()), {"name", *free})
    for f in files:
        header = f.read_text().splitlines()[0]  # the "# @package" line Hydra needs
        d = yaml.safe_load(f.read_text()) or {}
        _drop(d, key)
        f.write_text(header + "\n" + yaml.safe_dump(d, sort_keys=False))
    monkeypatch.setenv("REPRO_CONF_DIR", str(tmp_path / "conf"))
    with pytest.raises(config_mod.ConfigError, match=re.escape(f"experiment.{key}")):
        config_mod.compose([f"experiment={name}", "scale=laptop"])


def test_every_claim_gives_a_verdict_on_a_table_without_data(name):
    """A hand-made table with the tidy columns and no rows: every check says inconclusive, none crashes."""
    module = config_mod.experiment_module(name)
    cfg = config_mod.compose([f"experiment={name}", "scale=laptop"])
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in ("shard", *TIDY_COLUMNS)})
    for claim in module.CLAIMS:
        out = claim.evaluate(empty, cfg)
        assert out["status"] == "inconclusive", (claim.id, out)
        assert isinstance(out["measured"], str) and isinstance(out["detail"], str)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Every experiment's shards at smoke scale, run for real, then aggregated."""
    root = tmp_path_factory.mktemp("contract")
    with contextlib.chdir(root):
        for e in EXPERIMENTS:
            run(config_mod.compose([f"experiment={e}", "scale=smoke", "tracking=disabled", f"data_dir={root}/data"]))
            aggregate("smoke", e)
    return root


def test_each_smoke_shard_returns_a_tidy_table(name, smoke):
    module = config_mod.experiment_module(name)
    cfg = config_mod.compose([f"experiment={name}", "scale=smoke"])
    for shard in module.shards(cfg.experiment):
        t = pd.read_csv(smoke / experiment_dir("smoke", name) / shard / TABLE)
        assert len(t) and {"shard", *TIDY_COLUMNS} <= set(t.columns), shard
        assert set(t["seed"].dropna().astype(int)) <= set(module.shard_seeds(cfg.experiment, shard, cfg.seeds)) | {-1}
        assert not t.duplicated(subset=[c for c in t.columns if c != "value"]).any(), shard


def test_each_claim_gives_a_verdict_on_the_smoke_table(name, smoke):
    claims = json.loads((smoke / experiment_dir("smoke", name) / CLAIMS_JSON).read_text())
    module = config_mod.experiment_module(name)
    assert [c["id"] for c in claims] == [c.id for c in module.CLAIMS]
    for c in claims:
        assert c["status"] in STATUSES and not c.get("error"), c
        assert c["version"] == len(c["history"]) + 1
