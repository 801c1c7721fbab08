"""Atomic writes leave no half-written file; the plan's digests change only for the shard whose config changed."""

from __future__ import annotations

import pandas as pd
import pytest

from repro.config import available_experiments
from repro.io import atomic_path, provenance, write_table
from repro.plan import PlannedShard, expected_seconds, plan, reference_times, schedule, summary


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "sub" / "table.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a tab")
            raise RuntimeError("killed")
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_atomic_write_replaces_and_is_byte_stable(tmp_path):
    target = tmp_path / "t.csv"
    df = pd.DataFrame({"seed": [0, 1], "value": [0.1, 1 / 3]})
    write_table(target, df)
    first = target.read_bytes()
    write_table(target, df)
    assert target.read_bytes() == first and [p.name for p in tmp_path.iterdir()] == ["t.csv"]
    assert oct(target.stat().st_mode & 0o077) != "0o0"  # readable by others (umask permitting)


def test_provenance_fields():
    p = provenance(device="cpu", seeds=[0, 1], wall_time_s=1.23456, started="now")
    assert p["seeds"] == [0, 1] and p["wall_time_s"] == 1.235
    assert p["packages"]["torch"] and p["python"].startswith("3.") and p["device"].startswith("cpu")
    assert set(p["git"]) == {"commit", "dirty"}


def test_plan_digest_changes_only_for_the_affected_shard():
    base = {s.name: s for s in plan("f_principle", "smoke")}
    changed = {s.name: s for s in plan("f_principle", "smoke", ["experiment.fp3.max_steps=61"])}
    assert base["fp3"].digest != changed["fp3"].digest
    assert base["fp1"].digest == changed["fp1"].digest and base["fp2"].digest == changed["fp2"].digest
    assert base["fp1"].digest == plan("f_principle", "smoke")[0].digest  # deterministic


def test_plan_lists_data_and_resources():
    shards = {s.name: s for s in plan("f_principle", "paper")}
    assert shards["fp2"].data and shards["fp2"].data[0][0] == "mnist1d"
    assert shards["fp2"].data[0][2].startswith("data/mnist1d/")
    assert not shards["fp1"].data
    assert all(s.gpu for s in shards.values())
    assert not any(s.gpu for s in plan("f_principle", "laptop"))


def _shard(name: str, seconds: float | None, threads: int = 1) -> PlannedShard:
    return PlannedShard(
        "e",
        "laptop",
        name,
        "d",
        f"results/laptop/e/{name}",
        (),
        False,
        threads,
        1000,
        10,
        seconds,
        0 if seconds is None else int(seconds),
    )


def test_schedule_runs_the_longest_shards_first():
    # longest first on 2 cores: 3 | 3, then 2 → 5 | 2 → 5, then 2 → 7; the list order does not matter
    shards = [_shard(n, t) for n, t in zip("abcde", (2, 3, 2, 3, 2))]
    sch = schedule(shards, cores=2)
    assert (sch.wall_s, sch.work_s, sch.critical.expected_s, sch.unknown) == (7.0, 12.0, 3.0, ())
    assert schedule(shards, cores=1).wall_s == 12.0
    assert schedule([_shard("x", 4.0, threads=2), _shard("y", 1.0)], cores=2).wall_s == 5.0  # x holds both cores
    unknown = schedule([_shard("a", 1.0), _shard("b", None)], cores=2)
    assert unknown.unknown == ("e/b",) and unknown.wall_s == 1.0
    text = summary(shards, 2)
    assert "expected wall time on 2 core(s): 0.1 min" in text and "no run ends before it" in text


def test_expected_time_prefers_this_machines_last_measurement(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    reference = {("laptop", "f_principle", "fp3"): 44.7}
    assert expected_seconds("laptop", "f_principle", "fp3", reference) == (44.7, "reference")
    assert expected_seconds("laptop", "f_principle", "fp1", reference) == (None, None)
    bench = tmp_path / "results/laptop/f_principle/benchmarks"
    bench.mkdir(parents=True)
    (bench / "fp3.tsv").write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t321.5\n")
    assert expected_seconds("laptop", "f_principle", "fp3", reference) == (12.5, "measured")
    [fp3] = [s for s in plan("f_principle", "laptop") if s.name == "fp3"]
    assert (fp3.expected_s, fp3.priority, fp3.expected_from) == (12.5, 12, "measured")


def test_job_plan_splits_a_shard_longer_than_the_job_limit():
    """Known time: estimate x 1.5 + 10 min margin; beyond the limit, jobs of the limit, enough for the training."""
    from repro.config import ScaleConfig
    from repro.plan import job_plan

    limited = ScaleConfig(name="paper", runtime_min=240, job_limit_min=1440)
    assert job_plan(None, limited) == (240, 1)  # nothing known: the scale's default, one job
    assert job_plan(600.0, limited) == (25, 1)  # 10 min x 1.5 + 10
    assert job_plan(40 * 3600.0, limited) == (1440, 3)  # 3600 + 10 min: training 3600 in jobs of 1430
    assert job_plan(40 * 3600.0, ScaleConfig(name="paper", runtime_min=240)) == (3610, 1)  # no limit: one job


def test_retried_attempts_grow_only_after_the_planned_jobs():
    one = PlannedShard("e", "paper", "a", "d", "o", (), True, 4, 1000, 100, 3600.0, 3600, "flops", 1, 1440)
    assert [one.runtime_request(a) for a in (1, 2, 3)] == [100, 200, 300]
    assert [one.mem_request(a) for a in (1, 2, 3)] == [1000, 2000, 3000]
    three = PlannedShard("e", "paper", "b", "d", "o", (), True, 4, 1000, 1440, 1e5, 100000, "flops", 3, 1440)
    assert [three.runtime_request(a) for a in (1, 2, 3, 4)] == [1440] * 4  # never beyond the job limit
    assert [three.mem_request(a) for a in (1, 2, 3, 4, 5)] == [1000, 1000, 1000, 2000, 3000]


def test_paper_image_shards_are_planned_from_their_flops():
    """The width sweep's shards have no measurement: their time is counted (3 x forward MACs x 2 FLOPs per image
    seen, at scale.device_tflops), so the widest ResNet asks for far more time than the narrowest group."""
    from repro.config import compose
    from repro.nn import cnn, resnet

    cfg = compose(["experiment=double_descent", "scale=paper"])
    shards = {s.name: s for s in plan("double_descent", "paper")}
    seed, per_job = cfg.experiment.first_seed, cfg.experiment.image.seeds_per_job  # a job trains its seeds together
    block = f"seeds{seed}-{seed + per_job - 1}" if per_job > 1 else f"seed{seed}"
    wide = shards[f"img-resnet18-k64-noise0.15-{block}"]
    narrow = shards[f"img-resnet18-k1_2_3_4-noise0.15-{block}"]
    assert wide.expected_from == narrow.expected_from == "flops"
    images = cfg.experiment.image.epochs * (50_000 // 128) * 128  # whole batches of 128
    assert wide.expected_s == pytest.approx(
        per_job * 6 * resnet.forward_macs(64) * images / (cfg.scale.device_tflops * 1e12)
    )
    cnn64 = shards[f"img-cnn5-k64-noise0.15-{block}"]
    sgd_images = cfg.experiment.image.sgd.steps * cfg.experiment.image.batch_size
    assert cnn64.expected_s == pytest.approx(
        per_job * 6 * cnn.forward_macs(64) * sgd_images / (cfg.scale.device_tflops * 1e12)
    )
    assert wide.runtime_min > 4 * narrow.runtime_min and wide.runtime_min <= cfg.scale.job_limit_min
    split = {s.name: s for s in plan("double_descent", "paper", [f"scale.job_limit_min={wide.runtime_min // 2}"])}
    assert split[wide.name].allocations >= 2 and split[wide.name].runtime_min == wide.runtime_min // 2


def test_the_reference_times_cover_every_laptop_shard():
    reference = reference_times()
    missing = [
        f"{s.experiment}/{s.name}"
        for e in available_experiments()
        for s in plan(e, "laptop")
        if ("laptop", e, s.name) not in reference
    ]
    assert not missing, f"the experiments' shard_times.tsv lack {missing}: measure them (Snakemake's benchmarks)"
