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
    [out] = run(
        compose(
            ["scale=smoke", "tracking=disabled", f"data_dir={tmp_path / 'data'}", f"out={tmp_path / name}", *overrides]
        )
    )
    return out


def seeds_of(overrides: list[str]) -> list[int]:
    """The training seeds these overrides run (first_seed, first_seed + 1, ... of the experiment)."""
    return compose(["scale=smoke", "tracking=disabled", *overrides]).seeds


def test_a_seed_trained_with_others_or_alone_gives_the_same_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = ["experiment=info_bottleneck", "shard=relu"]
    first, second = seeds_of([*base, "scale.seeds=2"])
    together = shard_run(tmp_path, "together", [*base, "scale.seeds=2"])
    # the second seed alone: its model moves from batch position 1 of 2 to 0 of 1 (the fused step, LeanAdam)
    alone = shard_run(tmp_path, "alone", [*base, f"seed={second}"])
    assert rows_of(alone, second) and rows_of(together, second) == rows_of(alone, second)
    assert rows_of(together, first) and rows_of(together, first) != rows_of(together, second)
    again = shard_run(tmp_path, "again", [*base, "scale.seeds=2"])
    assert (again / "table.csv").read_bytes() == (together / "table.csv").read_bytes()


def test_seed_groups_do_not_change_a_seeds_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = ["experiment=lottery_ticket", "shard=imp-g0"]
    first, second = seeds_of(base)
    one_group = shard_run(tmp_path, "g1", [*base, "experiment.imp.seed_groups=1"])
    two_groups = shard_run(tmp_path, "g2", [*base, "experiment.imp.seed_groups=2"])
    assert set(pd.read_csv(one_group / "table.csv")["seed"]) == {first, second}
    assert set(pd.read_csv(two_groups / "table.csv")["seed"]) == {first}
    assert rows_of(one_group, first) and rows_of(one_group, first) == rows_of(two_groups, first)
