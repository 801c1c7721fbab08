"""Atomic writes leave no half-written file; the plan's digests change only for the shard whose config changed."""

from __future__ import annotations

import pandas as pd
import pytest

from repro.io import atomic_path, provenance, write_table
from repro.plan import plan


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
