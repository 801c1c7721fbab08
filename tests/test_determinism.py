"""The same config and seed give byte-identical table rows on CPU whatever the grouping of a shard: a seed trained
in a batch with others or alone, in one seed group or another. (Interrupted and resumed runs: test_resume.py.)"""

from __future__ import annotations

import pandas as pd

from repro.config import compose
from repro.run import run


def rows_of(out, seed: int) -> str:
    t = pd.read_csv(out / "table.csv", dtype=str, keep_default_na=False)
    return t[t["seed"] == str(seed)].to_csv(index=False)


def shard_run(tmp_path, name: str, overrides: list[str]):
    [out] = run(compose(["scale=smoke", "tracking=disabled", f"data_dir={tmp_path / 'data'}",
                         f"out={tmp_path / name}", *overrides]))
    return out


def test_a_seed_trained_with_others_or_alone_gives_the_same_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = ["experiment=info_bottleneck", "shard=ib"]
    together = shard_run(tmp_path, "together", [*base, "scale.seeds=2"])
    alone = shard_run(tmp_path, "alone", [*base, "seed=1"])
    assert rows_of(alone, 1) and rows_of(together, 1) == rows_of(alone, 1)
    again = shard_run(tmp_path, "again", [*base, "scale.seeds=2"])
    assert (again / "table.csv").read_bytes() == (together / "table.csv").read_bytes()


def test_seed_groups_do_not_change_a_seeds_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = ["experiment=lottery_ticket", "shard=imp-g0"]
    one_group = shard_run(tmp_path, "g1", [*base, "experiment.imp.seed_groups=1"])
    two_groups = shard_run(tmp_path, "g2", [*base, "experiment.imp.seed_groups=2"])
    assert set(pd.read_csv(one_group / "table.csv")["seed"]) == {0, 1}
    assert set(pd.read_csv(two_groups / "table.csv")["seed"]) == {0}
    assert rows_of(one_group, 0) and rows_of(one_group, 0) == rows_of(two_groups, 0)
