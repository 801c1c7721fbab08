"""repro.aggregate on real smoke-scale shard outputs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from repro import aggregate as agg
from repro.claims import Status
from repro.config import compose
from repro.experiments import Shard, f_principle
from repro.paths import aggregate_outputs

EXP, SCALE = "f_principle", "smoke"
SHARDS = ("fp1", "fp2", "fp3")


@pytest.fixture
def work(smoke_copy) -> Path:
    return smoke_copy


def test_aggregate_writes_table_claims_figures_summary(work):
    bench = work / "bench"
    bench.mkdir()
    (bench / "fp1.tsv").write_text("s\th:m:s\tmax_rss\tmax_vms\n12.5\t0:00:12\t321.5\t900.1\n")
    assert agg.main(["--scale", SCALE, "--experiment", EXP, "--benchmarks", str(bench)]) == 0
    out = work / "results" / SCALE / EXP
    for path in aggregate_outputs(SCALE, EXP).values():
        assert (work / path).is_file(), path

    table = pd.read_csv(out / "table.csv")
    shard_rows = sum(len(pd.read_csv(out / s / "table.csv")) for s in SHARDS)
    assert len(table) == shard_rows
    assert list(table.columns[:1]) == ["shard"] and list(table.columns[-4:]) == ["seed", "step", "metric", "value"]
    assert set(table["shard"]) == set(SHARDS)

    claims = json.loads((out / "claims.json").read_text())
    assert [c["id"] for c in claims] == [c.id for c in f_principle.CLAIMS]
    valid = {s.value for s in Status}
    for c in claims:
        assert c["status"] in valid
        assert c["experiment"] == EXP and c["scale"] == SCALE
        assert c["statement"] and c["rule"] and c["measured"] and c["detail"] and c["source"]
        assert "error" not in c  # no check crashed
    # smoke has 2 seeds: nothing can be decided
    assert {c["status"] for c in claims} == {"inconclusive"}

    captions = json.loads((out / "figures" / "captions.json").read_text())
    assert set(captions["order"]) >= {"fp1_heatmap", "fp2_errors", "fp3_rate"}
    for name in captions["order"]:
        svg = (out / "figures" / f"{name}.svg").read_text()
        assert "<svg" in svg and captions["captions"][name]

    summary = json.loads((out / "summary.json").read_text())
    assert summary["experiment"] == EXP and summary["scale"] == SCALE and summary["seeds"] == [300, 301]
    assert [r["key"] for r in summary["protocol"]][:3] == ["fp1", "fp2", "fp3"]
    dev = {d["key"]: d for d in summary["deviations"]}
    assert dev["fp1.hidden"] == {
        "key": "fp1.hidden",
        "value": [16, 16],
        "paper": [200, 200, 200, 100],
        "reason": "smoke test only",
        "stated": True,
        "differs": True,
    }
    assert dev["fp1.steps"]["stated"] is False and dev["fp1.steps"]["reason"] is None  # flagged
    assert dev["fp1.steps"]["value"] == 60 and dev["fp1.steps"]["paper"] == 3000
    assert dev["seeds"]["value"] == 2 and dev["seeds"]["paper"] == 5
    # stated at paper scale (another dataset), so a deviation at every scale, though the config values agree
    assert dev["fp2.data"]["stated"] and dev["fp2.data"]["differs"] is False
    assert "fp1.activations" not in dev  # same as the paper: not listed
    runtime = {r["shard"]: r for r in summary["runtime"]}
    assert set(runtime) == set(SHARDS)
    assert runtime["fp1"]["benchmark_s"] == 12.5 and runtime["fp1"]["max_rss_mb"] == 321.5
    assert runtime["fp2"]["benchmark_s"] is None and runtime["fp2"]["wall_time_s"] > 0
    assert set(summary["provenance"]) == set(SHARDS)
    assert summary["provenance"]["fp1"]["git"].keys() == {"commit", "dirty"}


def test_aggregate_is_deterministic(work):
    out = work / "results" / SCALE / EXP
    agg.aggregate(SCALE, EXP)
    first = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    agg.aggregate(SCALE, EXP)
    second = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    assert not list(out.rglob(".*.tmp"))  # no temporary files left behind


def test_stale_figures_are_removed(work):
    figs = work / "results" / SCALE / EXP / "figures"
    figs.mkdir(parents=True)
    (figs / "old_figure.svg").write_text("<svg/>")
    agg.aggregate(SCALE, EXP)
    assert not (figs / "old_figure.svg").exists()


def test_missing_results_dir_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert agg.main(["--scale", SCALE, "--experiment", EXP]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "results/smoke/f_principle" in err and "Traceback" not in err
    assert not (tmp_path / "results" / SCALE / EXP / "claims.json").exists()


def test_missing_shard_is_a_clear_error(work, capsys):
    (work / "results" / SCALE / EXP / "fp2" / "table.csv").unlink()
    assert agg.main(["--scale", SCALE, "--experiment", EXP]) == 2
    err = capsys.readouterr().err
    assert "fp2" in err and "table.csv" in err
    assert not (work / "results" / SCALE / EXP / "summary.json").exists()


def test_unknown_experiment_and_scale(work, capsys):
    assert agg.main(["--scale", SCALE, "--experiment", "nope"]) == 2
    assert "valid choices" in capsys.readouterr().err
    assert agg.main(["--scale", "huge", "--experiment", EXP]) == 2
    assert "valid choices" in capsys.readouterr().err


def _edit_frozen(work: Path, shard: str, edit) -> None:
    path = work / "results" / SCALE / EXP / shard / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    edit(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def test_shards_that_ran_different_seeds_are_an_error(work):
    _edit_frozen(work, "fp2", lambda c: c["scale"].update(seeds=3))
    with pytest.raises(agg.AggregateError, match=r"fp1 and fp2 ran different seeds.*rerun the stale shard"):
        agg.aggregate(SCALE, EXP)
    _edit_frozen(work, "fp2", lambda c: (c["scale"].update(seeds=2), c["experiment"].update(first_seed=0)))
    with pytest.raises(agg.AggregateError, match=r"ran different seeds"):
        agg.aggregate(SCALE, EXP)


def test_shards_reading_the_same_key_must_agree(work):
    """Two shards that declare the same key and ran it with different values: one is stale, and the error says
    which key and which shards."""
    module, cfg, shards = agg.read_shards(SCALE, EXP)
    both = SimpleNamespace(
        shards=lambda exp: {"fp1": Shard(("fp1",)), "fp2": Shard(("fp2", "fp1.lr")), "fp3": Shard(("fp3",))}
    )
    assert agg.merged_config(both, shards, cfg).experiment.fp1.lr == cfg.experiment.fp1.lr
    shards["fp2"][1]["experiment"]["fp1"]["lr"] = 0.5
    with pytest.raises(
        agg.AggregateError,
        match=r"shards fp1 and fp2 disagree on experiment\.fp1\.lr, which both "
        r"read \(fp1=0\.01 vs fp2=0\.5\); rerun the stale shard",
    ):
        agg.merged_config(both, shards, cfg)


def test_a_key_no_shard_reads_comes_from_conf_as_it_is_now(work):
    """Thresholds, deviation notes and keys outside every shard's declaration only rerun the aggregate; their
    stale copies in the frozen configs are ignored."""
    module, current, shards = agg.read_shards(SCALE, EXP)
    for n in SHARDS:
        shards[n][1]["experiment"]["deviations"] = {"fp1.hidden": "stale"}
    none = SimpleNamespace(shards=lambda exp: {"fp1": Shard(()), "fp2": Shard(()), "fp3": Shard(())})
    changed = compose([f"experiment={EXP}", f"scale={SCALE}", "experiment.fp1.lr=0.125"])
    merged = agg.merged_config(none, shards, changed)
    assert merged.experiment.fp1.lr == 0.125 and merged.experiment.deviations == changed.experiment.deviations


def test_each_shard_owns_its_section(work):
    # fp2 ran before fp1's section changed: fine, fp1's section comes from fp1's frozen config
    _edit_frozen(work, "fp2", lambda c: c["experiment"]["fp1"].update(lr=0.5))
    _, cfg, _ = agg.read_shards(SCALE, EXP)
    assert cfg.experiment.fp1.lr == 0.01
    _edit_frozen(work, "fp3", lambda c: c["experiment"]["fp3"].update(lr=0.25))
    _, cfg, _ = agg.read_shards(SCALE, EXP)
    assert cfg.experiment.fp3.lr == 0.25


def test_frozen_config_of_another_shard_is_an_error(work):
    _edit_frozen(work, "fp3", lambda c: c.update(shard="fp1"))
    with pytest.raises(agg.AggregateError, match="shard=fp1, expected .*shard=fp3"):
        agg.aggregate(SCALE, EXP)


def test_deviation_rows_group_under_stated_key():
    cfg = compose([f"experiment={EXP}", "scale=paper", "experiment.fp2.data.seed=7"])
    cfg.experiment.deviations = {"fp2.data": "another sample"}
    paper = compose([f"experiment={EXP}", "scale=paper"])
    rows = {r["key"]: r for r in agg.deviations(cfg, paper)}
    assert rows["fp2.data"]["stated"] and rows["fp2.data"]["reason"] == "another sample"
    assert rows["fp2.data"]["value"]["seed"] == 7 and rows["fp2.data"]["paper"]["seed"] == 42
    assert "fp2.data.seed" not in rows


def test_flatten():
    assert agg.flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}}) == {"a.b": 1, "a.c": [1, 2], "d": {}}


def test_deviation_reasons_come_from_conf_not_stale_frozen_configs(work):
    """Editing a reason reruns the aggregate but no shard: the report must show conf/'s reason."""
    for shard in SHARDS:
        path = work / "results" / SCALE / EXP / shard / "config.yaml"
        frozen = yaml.safe_load(path.read_text())
        frozen["experiment"]["deviations"] = {"fp1.hidden": "a stale reason"}
        path.write_text(yaml.safe_dump(frozen))
    assert agg.main(["--scale", SCALE, "--experiment", EXP]) == 0
    summary = json.loads((work / "results" / SCALE / EXP / "summary.json").read_text())
    dev = {d["key"]: d for d in summary["deviations"]}
    assert dev["fp1.hidden"]["reason"] == "smoke test only"
