"""Lottery tickets: pruning on analytic cases, masks that stay applied under Adam, batched = one at a time,
early stopping, and every claim's verdicts on hand-made tables."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from repro.claims import Status
from repro.experiments.lottery_ticket import claims as ltc
from repro.experiments.lottery_ticket.imp import (
    Split,
    State,
    magnitude_prune,
    random_masks_like,
    remaining,
    train_level,
)
from repro.nn.batched import BatchedMLP
from repro.train import train

R, N, U = Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE


def test_magnitude_prune_removes_the_smallest_surviving_weights():
    w = torch.tensor([[[1.0, -5.0], [0.1, 3.0], [-0.2, 4.0], [2.0, -0.3], [6.0, 0.05]]])  # [1, 5, 2]
    ones = torch.ones_like(w)
    [m1] = magnitude_prune([w], [ones], [0.2])  # 2 of 10: 0.05 and 0.1
    assert m1.flatten().tolist() == [1, 1, 0, 1, 1, 1, 1, 1, 1, 0]
    [m2] = magnitude_prune([w], [m1], [0.25])  # 2 of the 8 survivors: 0.2 and 0.3
    assert m2.flatten().tolist() == [1, 1, 0, 1, 0, 1, 1, 0, 1, 0]
    # pruned weights stay pruned even if they have grown
    [m3] = magnitude_prune([w * (1 - m2) * 100 + w * m2], [m2], [0.0])
    assert torch.equal(m3, m2)


def test_magnitude_prune_is_per_model():
    w = torch.stack([torch.arange(1.0, 11.0).view(5, 2), -torch.arange(10.0, 0.0, -1).view(5, 2)])
    [m] = magnitude_prune([w], [torch.ones_like(w)], [0.3])
    assert m[0].flatten().tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    assert m[1].flatten().tolist() == [1, 1, 1, 1, 1, 1, 1, 0, 0, 0]


def test_random_masks_keep_the_count_and_remaining():
    m = torch.zeros(2, 10, 10)
    m[0, :3] = 1
    m[1, :7] = 1
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    [r] = random_masks_like([m], gens)
    assert r[0].sum() == 30 and r[1].sum() == 70 and not torch.equal(r, m)
    out = [torch.ones(2, 4, 5), torch.zeros(2, 5, 3)]
    out[1][0, :, :2] = 1  # model 0 keeps 10 of 15
    assert remaining(out).tolist() == pytest.approx([100 * 30 / 35, 100 * 20 / 35])


def test_masks_stay_applied_under_adam_with_live_moments():
    """Adam with non-zero moments moves weights whose gradient is zero; masks re-applied after every
    step keep them at exactly 0. Without the re-application they revive (the failure this guards)."""
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))

    def run(reapply: bool) -> tuple[torch.Tensor, torch.Tensor]:
        model = BatchedMLP([0], [6, 8, 3], "relu")
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)

        def loss():
            return torch.nn.functional.cross_entropy(model(x)[0], y).unsqueeze(0)

        train(model.parameters(), loss, steps=5, optimizer=lambda p: opt)  # moments now non-zero everywhere
        masks = [(torch.rand_like(w) > 0.5).float() for w in model.weights]
        model.set_masks(masks)
        train(
            model.parameters(),
            loss,
            steps=5,
            optimizer=lambda p: opt,
            after_step=model.apply_masks_ if reapply else None,
        )
        return model.weights[0].detach(), masks[0]

    w, m = run(reapply=True)
    assert torch.all(w[m == 0] == 0) and torch.any(w[m == 1] != 0)
    w, m = run(reapply=False)
    assert torch.any(w[m == 0] != 0)  # revived: the test above would catch a missing re-application


def _data():
    g = torch.Generator().manual_seed(0)
    mk = lambda n: Split(torch.randn(n, 8, generator=g), torch.randint(0, 10, (n,), generator=g))  # noqa: E731
    return mk(120), mk(40), mk(50)


def test_batched_level_equals_one_model_at_a_time():
    tr, val, test = _data()
    sizes = [8, 16, 10]
    theta = State.of(BatchedMLP([0, 1, 2], sizes, "relu", init="glorot_normal"))
    masks = magnitude_prune(theta.weights, [torch.ones_like(w) for w in theta.weights], [0.5, 0.2])
    kw = dict(train_set=tr, val=val, test=test, iterations=12, batch_size=30, lr=1e-2, eval_every=6)
    rows, final, _ = train_level(theta, masks, [0, 1, 2], sizes, **kw)
    together = pd.DataFrame(rows).sort_values(["b", "step", "metric"]).reset_index(drop=True)
    for b in range(3):
        alone_rows, alone_final, _ = train_level(theta.select([b]), [m[[b]] for m in masks], [b], sizes, **kw)
        alone = pd.DataFrame(alone_rows).sort_values(["step", "metric"]).reset_index(drop=True)
        mine = together[together.b == b].reset_index(drop=True)
        np.testing.assert_allclose(mine["value"], alone["value"], rtol=1e-4, atol=1e-6)
        for wa, wb in zip(final.weights, alone_final.weights):
            torch.testing.assert_close(wa[b], wb[0], rtol=1e-4, atol=1e-6)
    # pruned weights are exactly zero after training
    for w, m in zip(final.weights, masks):
        assert torch.all(w[m == 0] == 0)


def test_snapshot_is_taken_at_the_rewind_iteration():
    tr, val, test = _data()
    theta = State.of(BatchedMLP([0], [8, 16, 10], "relu"))
    kw = dict(train_set=tr, val=val, test=test, batch_size=30, lr=1e-2, eval_every=5)
    _, at4, _ = train_level(theta, None, [0], [8, 16, 10], iterations=4, **kw)
    _, _, snap = train_level(theta, None, [0], [8, 16, 10], iterations=10, snapshot_at=4, **kw)
    torch.testing.assert_close(snap.weights[0], at4.weights[0])


# ---------------------------------------------------------------- hand-made tables

PMS = {0: 100.0, 1: 80.0, 3: 51.0, 7: 21.0, 8: 16.8, 11: 8.6, 14: 4.4}


def lt_table(acc: dict, es_iter: dict | None = None, seeds=5, jitter=0.002) -> pd.DataFrame:
    """acc[(level, arm)] = accuracy, plus a per-seed offset `jitter * (seed - 2)` shared by every arm, or a list of
    one accuracy per seed (taken as it is); es_iter[(level, arm)] = early-stopping iteration (default 500), or a
    list of one per seed.
    val_loss is lowest at the early-stopping iteration; test accuracy there is `acc`, 0.1 elsewhere. The last
    recorded iteration is 1000."""
    rows = []
    for (level, arm), a_all in acc.items():
        stop_all = (es_iter or {}).get((level, arm), 500)
        for s in range(seeds):
            a = a_all[s] - jitter * (s - 2) if isinstance(a_all, list) else a_all
            stop = stop_all[s] if isinstance(stop_all, list) else stop_all
            for step in (0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000):
                rows.append(
                    dict(
                        level=level,
                        p_m=PMS[level],
                        arm=arm,
                        seed=s,
                        step=step,
                        metric="val_loss",
                        value=1.0 + abs(step - stop) / 1000,
                    )
                )
                rows.append(
                    dict(
                        level=level,
                        p_m=PMS[level],
                        arm=arm,
                        seed=s,
                        step=step,
                        metric="test_acc",
                        value=(a + jitter * (s - 2)) if step == stop else 0.1,
                    )
                )
    return pd.DataFrame(rows)


def good_acc(over: dict | None = None) -> dict:
    acc = {(0, "dense"): 0.80}
    for lvl in PMS:
        if lvl:
            acc |= {(lvl, "reset"): 0.81, (lvl, "rewind"): 0.81, (lvl, "reinit"): 0.70, (lvl, "random"): 0.65}
    return acc | (over or {})


def test_early_stops_read_accuracy_at_min_val_loss():
    es = ltc.early_stops(lt_table(good_acc(), es_iter={(7, "reset"): 300, (8, "reset"): 1000}))
    row = es[(es.level == 7) & (es.arm == "reset") & (es.seed == 2)].iloc[0]
    assert row.es_iter == 300 and row.acc == pytest.approx(0.81) and row["last"] == 1000 and not row.censored
    assert es[(es.level == 8) & (es.arm == "reset")]["censored"].all() and es["censored"].sum() == 5


def claim(cid: str):
    return next(c for c in ltc.CLAIMS if c.id == cid)


def test_lt1_three_verdicts():
    assert ltc.check_lt1(lt_table(good_acc()), None).status is R
    assert ltc.check_lt1(lt_table(good_acc({(8, "reset"): 0.70})), None).status is N
    assert ltc.check_lt1(lt_table(good_acc(), seeds=2), None).status is U


def test_lt1_pairs_ticket_and_dense_by_seed():
    """Seeds shift every arm by up to ±0.1 (their shared θ0 and data order). A ticket 0.005 below its own dense
    network in every seed is below it: the medians' IQR (rule version 1) would have called that a match."""
    below = lt_table(good_acc({(8, "reset"): 0.795}), jitter=0.05)
    v = ltc.check_lt1(below, None)
    assert v.status is N and "-0.005 [95% CI -0.005, -0.005; median of 5 paired seed differences]" in v.measured
    es = ltc.early_stops(below)
    t, t_iqr, _ = ltc._stats(es, 8, "reset")
    d, d_iqr, _ = ltc._stats(es, 0, "dense")
    assert t >= d - max(t_iqr, d_iqr)  # what the old rule compared: within the spread
    # tickets below dense in one seed of five, above in the others: the interval straddles 0, not below it
    mixed = lt_table(good_acc({(8, "reset"): [0.81, 0.81, 0.79, 0.81, 0.81]}), jitter=0)
    v = ltc.check_lt1(mixed, None)
    assert v.status is R and "95% CI -0.010, +0.010" in v.measured


def test_lt2_lt3_three_verdicts():
    assert ltc.check_lt2(lt_table(good_acc()), None).status is R
    assert ltc.check_lt2(lt_table(good_acc({(14, "reinit"): 0.81})), None).status is N
    assert ltc.check_lt2(lt_table(good_acc(), seeds=2), None).status is U
    assert ltc.check_lt3(lt_table(good_acc()), None).status is R
    assert ltc.check_lt3(lt_table(good_acc({(8, "random"): 0.812})), None).status is N
    assert ltc.check_lt3(lt_table(good_acc(), seeds=2), None).status is U


def test_lt2_lt3_pair_the_arms_by_seed():
    # a 0.02 lead in every seed, under seed offsets of ±0.1 (IQR 0.1): paired, the ticket wins at every level
    close = good_acc({(lvl, "reinit"): 0.79 for lvl in (11, 14)})
    v = ltc.check_lt2(lt_table(close, jitter=0.05), None)
    assert v.status is R and "+0.020 [95% CI +0.020, +0.020" in v.measured
    # one seed of five where the random mask beats the ticket: the interval at that level reaches below 0
    v = ltc.check_lt3(lt_table(good_acc({(8, "random"): [0.65, 0.65, 0.65, 0.65, 0.82]}), jitter=0), None)
    assert v.status is N and "16.8%: +0.160 [95% CI -0.010, +0.160" in v.measured and "✗" in v.measured


def test_lt4_three_verdicts():
    early = {(0, "dense"): 800, (7, "reset"): 500}
    assert ltc.check_lt4(lt_table(good_acc(), es_iter=early), None).status is R
    same = {(0, "dense"): 500, (7, "reset"): 500}
    assert ltc.check_lt4(lt_table(good_acc(), es_iter=same), None).status is N
    assert ltc.check_lt4(lt_table(good_acc(), es_iter=early, seeds=2), None).status is U


def test_lt4_precondition_censored_early_stops_are_inconclusive():
    """Dense and ticket both stop at the last recorded iteration: the rule alone reads "not reproduced", the
    verdict is inconclusive (a censored measurement), with what would test it."""
    censored = lt_table(good_acc(), es_iter={(0, "dense"): 1000, (7, "reset"): 1000})
    out = claim("LT4").evaluate(censored, None)
    assert out["rule_status"] == "not reproduced" and out["status"] == "inconclusive"
    assert out["preconditions"][0]["holds"] is False
    assert "10 of 10 early stops (100%)" in out["inconclusive_because"]
    assert out["inconclusive_because"].startswith("under-powered at this scale")
    assert "iterations" in out["would_test_it"]
    assert "censored early stops (at the last recorded iteration), all arms × levels × seeds: 10 of" in out["measured"]
    # under 20% of LT4's points censored (1 of 10) holds; 2 of 10 (20%) does not: "fewer than 20%"
    one = lt_table(good_acc(), es_iter={(0, "dense"): [800, 800, 800, 800, 1000], (7, "reset"): 500})
    assert claim("LT4").evaluate(one, None)["status"] == "reproduced"
    two = lt_table(good_acc(), es_iter={(0, "dense"): [800, 800, 800, 1000, 1000], (7, "reset"): 500})
    out = claim("LT4").evaluate(two, None)
    assert out["status"] == "inconclusive" and out["rule_status"] == "reproduced"
    # censored points elsewhere in the chain do not count for LT4's precondition, but every verdict reports them
    elsewhere = lt_table(good_acc(), es_iter={(0, "dense"): 800, (7, "reset"): 500, (14, "random"): 1000})
    out = claim("LT4").evaluate(elsewhere, None)
    assert out["status"] == "reproduced" and "5 of 125 (4%)" in out["measured"]


def test_every_lt_verdict_reports_the_censored_fraction():
    t = lt_table(good_acc({(7, "reset"): 0.70, (8, "reset"): 0.70}), es_iter={(14, "random"): 1000})
    for c in ltc.CLAIMS:
        out = c.evaluate(t, None)
        assert "all arms × levels × seeds: 5 of 125 (4%)" in out["measured"], c.id
    v = ltc.check_lt1(lt_table(good_acc(), seeds=2), None)  # too few seeds: still reported
    assert v.status is U and v.measured.endswith("all arms × levels × seeds: 0 of 50 (0%)")
    dense_only = lt_table({(0, "dense"): 0.8, (1, "reset"): 0.8}, es_iter={(1, "reset"): 1000})  # no P_m ≤ 20%
    out = claim("LT1").evaluate(dense_only, None)
    assert out["status"] == "inconclusive" and "missing data: no level with 10% ≤ P_m ≤ 20%" in out["detail"]
    assert out["measured"].startswith("n/a; censored early stops") and out["measured"].endswith(": 5 of 10 (50%)")


@pytest.mark.parametrize("cid,arm", [("LT1", "dense"), ("LT2", "reinit"), ("LT3", "random"), ("LT5", "rewind")])
def test_accuracy_claims_are_inconclusive_when_what_they_read_is_censored(cid, arm):
    """Issue 15: an arm stopped at the last recorded iteration is read before its validation minimum (the
    controls, slower, most of all), so its accuracy is not the paper's. Censored points the rule reads: inconclusive
    with what would test it; censored points elsewhere: the verdict stands."""
    failing = {(7, "reset"): 0.70, (8, "reset"): 0.70} if cid == "LT5" else {}  # LT5's premise
    acc = good_acc(failing)
    cut = {key: 1000 for key in acc if key[1] == arm}
    base = claim(cid).evaluate(lt_table(acc), None)
    assert base["status"] == "reproduced" and base["preconditions"][-1]["holds"] is True
    out = claim(cid).evaluate(lt_table(acc, es_iter=cut), None)
    assert out["status"] == "inconclusive" and out["preconditions"][-1]["holds"] is False
    assert f"{arm} " in out["preconditions"][-1]["measured"] and "experiment.imp.iterations" in out["would_test_it"]
    elsewhere = {(0, "dense"): 1000} if cid in ("LT2", "LT3") else {(14, "random"): 1000}
    assert claim(cid).evaluate(lt_table(acc, es_iter=elsewhere), None)["status"] == "reproduced"
    # not reproduced stays a possible verdict when the points are measured
    worse = good_acc(
        failing
        | (
            {(8, "reset"): 0.70}
            if cid == "LT1"
            else {(14, "reinit"): 0.81}
            if cid == "LT2"
            else {(8, "random"): 0.812}
            if cid == "LT3"
            else {(7, "rewind"): 0.72}
        )
    )
    assert claim(cid).evaluate(lt_table(worse), None)["status"] == "not reproduced"


def test_the_censoring_precondition_counts_fewer_than_20_percent():
    """LT2 reads reset and reinit at the levels with P_m ≤ 10%, every seed; 1 censored point of those holds."""
    es = ltc.early_stops(lt_table(good_acc()))
    n = len(ltc.accuracy_points(es, "LT2"))
    low = [lvl for lvl, pm in PMS.items() if lvl and pm <= 10]
    one = lt_table(good_acc(), es_iter={(low[0], "reinit"): [1000, 500, 500, 500, 500]})
    assert ltc.accuracies_uncensored("LT2")(one, None).holds is True
    k = -(-n // 5)  # ceil(20%): not fewer than 20%
    stops = {
        (lvl, "reinit"): [1000] * min(5, k - 5 * i) + [500] * (5 - min(5, k - 5 * i))
        for i, lvl in enumerate(low)
        if k - 5 * i > 0
    }
    assert ltc.accuracies_uncensored("LT2")(lt_table(good_acc(), es_iter=stops), None).holds is False


def test_lt5_three_verdicts():
    """Rule version 3: resetting fails at two or more levels with P_m ≥ 10% and rewinding beats resetting beyond its
    interval at each, else inconclusive; then rewind − dense decides."""
    assert ltc.check_lt5(lt_table(good_acc()), None).status is U  # resetting never fails: nothing to restore
    one = ltc.check_lt5(lt_table(good_acc({(7, "reset"): 0.70})), None)  # one failing level: could be chance
    assert one.status is U and "fewer than 2 levels" in one.detail
    assert "expect resetting to work for small networks" in one.detail
    failing = good_acc({(7, "reset"): 0.70, (8, "reset"): 0.70})
    v = ltc.check_lt5(lt_table(failing), None)
    assert v.status is R and "at 2 of 4 levels" in v.measured and "rewinding beats resetting at 2" in v.measured
    # rewinding no better than resetting at one failing level: the premise fails, inconclusive (version 2: N)
    v = ltc.check_lt5(lt_table(failing | {(8, "rewind"): 0.70}), None)
    assert v.status is U and "does not beat resetting" in v.detail
    # rewinding beats resetting but stays below dense: not reproduced
    v = ltc.check_lt5(lt_table(failing | {(8, "rewind"): 0.75}), None)
    assert v.status is N and "16.8%" in v.detail
    # rewinding 0.005 below dense in every seed, under seed offsets of ±0.1: paired, it does not match
    v = ltc.check_lt5(lt_table(failing | {(8, "rewind"): 0.795}, jitter=0.05), None)
    assert v.status is N and "rewind − dense -0.005 [95% CI -0.005, -0.005" in v.measured
    assert ltc.check_lt5(lt_table(failing, seeds=2), None).status is U
    assert "inconclusive or not reproduced may be the right outcome" in claim("LT5").rule


def test_lt1_checks_every_level_between_10_and_20_percent(monkeypatch):
    monkeypatch.setitem(PMS, 9, 13.5)
    monkeypatch.setitem(PMS, 10, 10.8)
    assert ltc.check_lt1(lt_table(good_acc()), None).status is R
    # the first level in the window matches, a later one does not: version 2 read only the first (16.8%)
    v = ltc.check_lt1(lt_table(good_acc({(10, "reset"): 0.75})), None)
    assert v.status is N and "10.8%: -0.050" in v.measured and "✗" in v.measured and "10.8%" in v.detail
    # a miss below 10% is outside the window
    assert ltc.check_lt1(lt_table(good_acc({(11, "reset"): 0.75})), None).status is R
    assert ltc.check_lt1(lt_table(good_acc(), seeds=2), None).status is U


def probe_table(chain_stop=1000, dense=800, ticket=500, seeds=5) -> pd.DataFrame:
    """The chain with censored early stops at the dense level and the level nearest 21%, plus the LT4 probe."""
    acc = good_acc() | {(0, "probe_dense"): 0.80, (7, "probe_reset"): 0.81}
    return lt_table(
        acc,
        es_iter={
            (0, "dense"): chain_stop,
            (7, "reset"): chain_stop,
            (0, "probe_dense"): dense,
            (7, "probe_reset"): ticket,
        },
        seeds=seeds,
    )


def test_lt4_reads_the_probe_three_verdicts():
    out = claim("LT4").evaluate(probe_table(), None)
    assert out["status"] == "reproduced" and "the LT4 probe" in out["measured"]
    assert "dense − ticket early-stopping iteration, per seed, +300 [95% CI +300, +300" in out["measured"]
    assert "medians: ticket 500 vs dense 800 (+38% earlier)" in out["measured"]
    assert out["measured"].endswith("all arms × levels × seeds: 10 of 125 (8%); LT4 probe: 0 of 10 (0%)")
    assert claim("LT4").evaluate(probe_table(ticket=800), None)["status"] == "not reproduced"
    assert claim("LT4").evaluate(probe_table(seeds=2), None)["status"] == "inconclusive"
    # the probe itself censored: the precondition makes it inconclusive, naming the probe
    out = claim("LT4").evaluate(probe_table(dense=1000, ticket=1000), None)
    assert out["status"] == "inconclusive" and out["preconditions"][0]["holds"] is False
    assert (
        "10 of 10 early stops (100%)" in out["inconclusive_because"]
        and "(the LT4 probe)" in out["inconclusive_because"]
    )
    # the probe arms are not part of the chain's claims
    assert ltc.check_lt1(probe_table(), None).status is R and ltc.check_lt5(probe_table(), None).status is U


def test_lt4_pairs_dense_and_ticket_by_seed():
    """Seeds shift both arms' early stops by ±200 (their shared θ0 and data order); the ticket stops 100 iterations
    before its own dense network in every seed. Paired, that is earlier; medians ± the larger IQR (version 2) not."""
    shifted = probe_table(dense=[500, 600, 700, 800, 900], ticket=[400, 500, 600, 700, 800])
    v = ltc.check_lt4(shifted, None)
    assert v.status is R and "+100 [95% CI +100, +100" in v.measured
    es = ltc.early_stops(shifted)
    t, d = es[es.arm == "probe_reset"]["es_iter"], es[es.arm == "probe_dense"]["es_iter"]
    assert d.median() - t.median() <= max(np.subtract(*np.percentile(x, [75, 25])) for x in (t, d))
    # earlier in four seeds, later in one: the interval reaches 0
    mixed = probe_table(dense=[800, 800, 800, 800, 500], ticket=[500, 500, 500, 500, 800])
    assert ltc.check_lt4(mixed, None).status is N


def test_revised_claims_log_their_history():
    for c in ltc.CLAIMS:
        rev = c.history[0]
        assert rev.date == "2026-12-04" and rev.old_rule == ltc.OLD_RULE[c.id]
        assert rev.old_verdict.split(":")[0] in ("reproduced", "not reproduced", "inconclusive")
        assert rev.old_rule != c.rule and rev.reason
    for cid in ("LT1", "LT2", "LT3", "LT5"):
        assert "95% percentile bootstrap interval" in claim(cid).rule and "paired" in claim(cid).history[0].reason
    assert [p.text[:26] for p in claim("LT4").preconditions] == ["fewer than 20% of the earl"]
    assert [c.version for c in ltc.CLAIMS] == [4, 3, 3, 3, 4]
    for cid in ("LT1", "LT2", "LT3", "LT5"):  # issue 15: the censoring precondition; the rule text is unchanged
        rev = claim(cid).history[-1]
        assert rev.old_rule == ltc.RULE_BEFORE_CENSORING[cid] == claim(cid).rule
        assert rev.old_verdict == ltc.OLD_VERDICT_CENSORED[cid] and "first_seed 400" in rev.reason
        assert [p.text[:26] for p in claim(cid).preconditions] == ["fewer than 20% of the earl"]
    for cid in ("LT1", "LT4", "LT5"):  # issue 15: version 2's rule and verdict (seeds 100-104), then version 3
        rev = claim(cid).history[1]
        assert rev.old_rule == ltc.RULE_V2[cid] != claim(cid).rule and "first_seed 300" in rev.reason
        assert rev.old_verdict == ltc.OLD_VERDICT_V2[cid]
        assert rev.old_verdict.split(":")[0] in ("reproduced", "not reproduced", "inconclusive")
    assert claim("LT2").rule == claim("LT2").describe()["rule"]
    assert "open_lth" in claim("LT5").history[1].reason


# ---------------------------------------------------------------- the rewind arm, the optimizer, the probe


def test_masked_adam_is_torch_fused_adam_on_each_model_alone_bit_for_bit():
    """Each model of the batch gets exactly the numbers torch.optim.Adam(fused=True) gives it alone (then masked):
    whatever its position in the batch, and with a late start (the rewind arm) as a fresh Adam from there."""
    from repro.experiments.lottery_ticket.imp import MaskedAdam

    g = torch.Generator().manual_seed(0)
    shapes = [(3, 40, 256), (3, 256), (3, 256, 10), (3, 10)]  # 10: not a multiple of the CPU's vector width
    ps = [torch.randn(s, generator=g) for s in shapes]
    masks = [(torch.rand(s, generator=g) > 0.3).float() for s in shapes[:1]] + [None, None, None]
    grads = [[torch.randn(s, generator=g) for s in shapes] for _ in range(6)]
    starts = [0, 2, 0]
    batch = [p.clone().requires_grad_() for p in ps]
    opt = MaskedAdam(batch, 1e-2, masks=masks, starts=starts)
    for gr in grads:
        for p, x in zip(batch, gr):
            p.grad = x.clone()
        opt.step()
    for b in range(3):
        alone = [p[b].clone() for p in ps]
        with torch.no_grad():
            alone[0].mul_(masks[0][b])
        alone = [p.requires_grad_() for p in alone]
        ref = torch.optim.Adam(alone, lr=1e-2, fused=True)
        for gr in grads[starts[b] :]:
            for p, x in zip(alone, gr):
                p.grad = x[b].clone()
            ref.step()
            with torch.no_grad():
                alone[0].mul_(masks[0][b])
        for p, q in zip(batch, alone):
            assert torch.equal(p[b], q), b


def test_rewind_arm_trains_from_j_to_T():
    """open_lth: the rewind arm trains from iteration j to T (T − j steps), with a fresh Adam and the data order
    continued from iteration j; not T steps from θ_j (T + j in all)."""
    from repro.train import LeanAdam, MinibatchOrder

    tr, val, test = _data()
    sizes, T, j = [8, 16, 10], 12, 4
    theta = State.of(BatchedMLP([0, 1], sizes, "relu", init="glorot_normal"))
    masks = magnitude_prune(theta.weights, [torch.ones_like(w) for w in theta.weights], [0.5, 0.2])
    kw = dict(train_set=tr, val=val, test=test, iterations=T, batch_size=30, lr=1e-2, eval_every=4)
    rows, final, _ = train_level(theta, masks, [0, 0], sizes, starts=[0, j], **kw)
    t = pd.DataFrame(rows)
    assert sorted(set(t[t.b == 0].step)) == [0, 4, 8, 12] and sorted(set(t[t.b == 1].step)) == [4, 8, 12]
    assert sorted(set(t[(t.b == 1) & (t.metric == "train_loss")].step)) == [8, 12]
    # by hand: model 1 alone, skipping the first j minibatches of the seed's order, T − j Adam steps
    model = BatchedMLP([0], sizes, "relu")
    with torch.no_grad():
        for p, v in zip([*model.weights, *model.biases], [*theta.select([1]).weights, *theta.select([1]).biases]):
            p.copy_(v)
        for w, m in zip(model.weights, masks):
            w.mul_(m[[1]])
    order = MinibatchOrder(torch.arange(len(tr.x)), [7_919 * 0 + 1], 30)
    for _ in range(j):
        order()
    opt, steps = LeanAdam(list(model.parameters()), 1e-2), 0
    for _ in range(T - j):
        idx = order()
        loss = torch.nn.functional.cross_entropy(model(tr.x[idx])[0], tr.y[idx][0])
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        with torch.no_grad():
            for w, m in zip(model.weights, masks):
                w.mul_(m[[1]])
    assert steps == T - j and opt.steps == T - j
    for wa, wb in zip(final.weights, model.weights):
        torch.testing.assert_close(wa[1], wb[0].detach(), rtol=1e-5, atol=1e-6)
    # j = T: no step at all, the rewound weights come back unchanged
    _, same, _ = train_level(theta.select([1]), [m[[1]] for m in masks], [0], sizes, starts=[T], **kw)
    for wa, wb, m in zip(same.weights, theta.select([1]).weights, masks):
        assert torch.equal(wa, wb * m[[1]])


def test_the_probe_repeats_the_chains_masks_exactly():
    """The imp-probe shard repeats the reset chain alone; the chain trains the reset arm beside three others. The
    reset arm's weights, and so its next mask, must be the same bits either way."""
    tr, val, test = _data()
    sizes = [8, 16, 10]
    theta = State.of(BatchedMLP([0, 1], sizes, "relu", init="glorot_normal"))
    masks = magnitude_prune(theta.weights, [torch.ones_like(w) for w in theta.weights], [0.5, 0.2])
    kw = dict(train_set=tr, val=val, test=test, iterations=12, batch_size=30, lr=1e-2, eval_every=6)
    four = State.cat([theta, theta, theta, theta])
    _, together, _ = train_level(
        four, [torch.cat([m] * 4) for m in masks], [0, 1] * 4, sizes, starts=[0, 0, 3, 3, 0, 0, 0, 0], **kw
    )
    _, alone, _ = train_level(theta, masks, [0, 1], sizes, **kw)
    for wa, wb in zip(together.select([0, 1]).weights, alone.weights):
        assert torch.equal(wa, wb)


def test_probe_level_is_the_chains_level_nearest_21_percent():
    from repro.experiments.lottery_ticket.imp import nearest_level, pm_schedule

    sched = pm_schedule([40, 256, 256, 10], [0.2, 0.2, 0.1], 15)
    assert sched[0] == 100 and round(sched[7], 1) == 21.8 and round(sched[15], 1) == 4.1  # the chain's P_m
    assert nearest_level([40, 256, 256, 10], [0.2, 0.2, 0.1], 15, 21.0) == 7
    w = [torch.randn(1, 40, 256), torch.randn(1, 256, 256), torch.randn(1, 256, 10)]
    m = [torch.ones_like(x) for x in w]
    for lvl in range(1, 8):
        m = magnitude_prune(w, m, [0.2, 0.2, 0.1])
        assert remaining(m).item() == pytest.approx(sched[lvl], abs=1e-4)


def test_smoke_chain_and_probe_shards(tmp_path, monkeypatch):
    from repro.config import compose
    from repro.experiments import lottery_ticket as lt
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    base = ["experiment=lottery_ticket", "scale=smoke", "tracking=disabled", f"data_dir={tmp_path / 'data'}"]
    exp = compose(base).experiment
    assert set(lt.shards(exp)) == {"imp-g0", "imp-g1", "imp-probe"}
    assert "experiment.imp.probe_iterations" not in lt.shards(exp)["imp-g0"].keys
    [probe_out] = run(compose([*base, "shard=imp-probe"]))
    [chain_out] = run(compose([*base, "shard=imp-g0"]))
    p, c = pd.read_csv(probe_out / "table.csv"), pd.read_csv(chain_out / "table.csv")
    assert set(p["arm"]) == {"probe_dense", "probe_reset"} and set(p["level"]) == {0, 2}
    assert p["step"].max() == exp.imp.probe_iterations and sorted(set(p["step"]))[1] == exp.imp.probe_eval_every
    assert set(c["arm"]) == {"dense", "reset", "rewind", "reinit", "random"}
    # the probe's ticket has the chain's sparsity at that level; the rewind arm's rows start at j
    chain_pm = c[(c.arm == "reset") & (c.level == 2)]["p_m"].iloc[0]
    assert p[p.arm == "probe_reset"]["p_m"].iloc[0] == pytest.approx(chain_pm)
    assert c[c.arm == "rewind"]["step"].min() == exp.imp.rewind_iteration


# ---------------------------------------------------------------- paper scale: the papers' networks


def _fake_data(root, family: str, n: int = 24) -> None:
    from repro.data import DataRef

    g = np.random.default_rng(0)
    shape = (1, 28, 28) if family == "mnist" else (3, 32, 32)
    path = DataRef(family, {"subset": n}).path(root / "data")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        x=g.integers(0, 256, (n, *shape), dtype=np.uint8),
        y=np.arange(n) % 10,
        x_test=g.integers(0, 256, (10, *shape), dtype=np.uint8),
        y_test=np.arange(10),
    )


def _paper_cfg(tmp_path, network: str, extra=()):
    from repro.config import compose

    return compose(
        [
            "experiment=lottery_ticket",
            "scale=paper",
            "scale.device=cpu",
            "tracking=disabled",
            f"data_dir={tmp_path / 'data'}",
            f"experiment.nets.networks=[{network}]",
            "experiment.nets.seeds=1",
            "experiment.nets.levels=2",
            "experiment.nets.subset=24",
            "experiment.nets.n_val=4",
            "experiment.nets.max_iterations=3",
            "experiment.nets.batch_size=4",
            "experiment.nets.eval_every=1",
            "experiment.nets.rewind_iteration=1",
            "experiment.nets.extra_rewind={resnet20:[2]}",
            f"shard=net-{network}-seed0",
            *extra,
        ]
    )


@pytest.mark.parametrize("network,family", [("lenet300", "mnist"), ("resnet20", "cifar10")])
def test_paper_networks_run_imp_levels(tmp_path, monkeypatch, network, family):
    """The paper's LeNet-300-100 (layer-wise) and ResNet-20 (global pruning, rewinding): 2 levels, 3 steps each."""
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    _fake_data(tmp_path, family)
    [out] = run(_paper_cfg(tmp_path, network))
    t = pd.read_csv(out / "table.csv")
    assert set(t["network"]) == {network} and set(t["level"]) == {0, 1, 2}
    more = {"rewind2"} if network == "resnet20" else set()  # ResNet-20: rewound to 0 (reset), 1 and 2 here
    assert set(t[t.level > 0]["arm"]) == {"reset", "rewind", "reinit", "random"} | more
    # the rewind arms train from j to T: their first row is at j, their last at T (3)
    for arm, j in {"rewind": 1, "rewind2": 2}.items():
        if arm == "rewind" or more:
            steps = sorted(set(t[(t.arm == arm) & (t.level == 1)]["step"]))
            assert steps[0] == j and steps[-1] == 3
    pm = t.groupby("level")["p_m"].max()
    assert pm[0] == 100 and pm[2] < pm[1] < 100
    assert not list(tmp_path.glob("results/paper/lottery_ticket/.net-*"))  # scratch removed when done


def test_paper_chain_resumes_at_the_last_finished_level(tmp_path, monkeypatch):
    from repro.experiments.lottery_ticket import nets
    from repro.run import run

    monkeypatch.chdir(tmp_path)
    _fake_data(tmp_path, "mnist")
    real_fit, calls = nets.fit, []

    def killed_at_level_2(ctx, name, c, state, masks, seed, data, label, **kw):
        calls.append(label)
        if "level 2" in label:
            raise KeyboardInterrupt("killed")
        return real_fit(ctx, name, c, state, masks, seed, data, label, **kw)

    monkeypatch.setattr(nets, "fit", killed_at_level_2)
    with pytest.raises(KeyboardInterrupt):
        run(_paper_cfg(tmp_path, "lenet300"))
    scratch = tmp_path / "results/paper/lottery_ticket/.net-lenet300-seed0.scratch/stages"
    assert sorted(p.name for p in scratch.iterdir()) == ["stage-0.pt", "stage-1.pt"]
    assert not (tmp_path / "results/paper/lottery_ticket/net-lenet300-seed0/table.csv").exists()
    calls.clear()
    monkeypatch.setattr(nets, "fit", lambda *a, **k: (calls.append(a[7]), real_fit(*a, **k))[1])
    [out] = run(_paper_cfg(tmp_path, "lenet300"))
    assert calls and all("level 2" in c for c in calls)  # levels 0 and 1 were not trained again
    assert set(pd.read_csv(out / "table.csv")["level"]) == {0, 1, 2}


def test_global_pruning_ranks_across_tensors():
    from repro.experiments.lottery_ticket.nets import prune
    from repro.nn import lth

    model = lth.make("resnet20", seed=0)
    params = dict(lth.prunable(model))
    masks = {k: torch.ones_like(p) for k, p in params.items()}
    rates = lth.prune_rates("resnet20", model)
    new = prune(model, masks, rates, "global")
    conv = [k for k in params if rates[k] > 0]
    kept = sum(new[k].sum().item() for k in conv) / sum(params[k].numel() for k in conv)
    assert kept == pytest.approx(0.8, abs=1e-4)
    per_layer = [new[k].mean().item() for k in conv]
    assert max(per_layer) - min(per_layer) > 0.05  # global: layers lose different fractions
    assert all(new[k].all() for k in params if rates[k] == 0)  # the output layer is not pruned


def test_figures_from_a_hand_made_table():
    from repro.experiments.lottery_ticket.plots import all_figures
    from repro.io import save_figure

    figs = all_figures(lt_table(good_acc()), None)
    assert [f.name for f in figs] == ["lt_accuracy", "lt_early_stop"]
    ax = figs[0].fig.axes[0]
    assert ax.xaxis_inverted() and ax.get_xscale() == "log"
    assert len([ln for ln in ax.get_lines() if ln.get_marker() == "o"]) == 4  # one curve per arm
    for f in figs:
        save_figure(Path(tempfile.mkdtemp()) / f"{f.name}.svg", f.fig)
    assert all_figures(pd.DataFrame(), None) == []
    # with the LT4 probe: its two points on the early-stopping panel, the claim-reading arms unchanged
    figs = all_figures(probe_table(), None)
    assert len([ln for ln in figs[0].fig.axes[0].get_lines() if ln.get_marker() == "o"]) == 4
    assert any(ln.get_marker() == "D" for ln in figs[1].fig.axes[0].get_lines())


def test_lt4_says_why_when_the_budget_censors_early_stopping():
    v = ltc.check_lt4(lt_table(good_acc(), es_iter={(0, "dense"): 1000, (7, "reset"): 1000}), None)
    assert v.status is N and "budget ends" in v.measured


# ---------------------------------------------------------------- one source for each value


def test_every_config_value_comes_from_conf():
    """No field of the schema carries a default of its own (conf/ is the one source): all are MISSING."""
    import dataclasses

    from omegaconf import MISSING

    from repro.config import compose
    from repro.experiments import lottery_ticket as lt

    for cls, prefix in ((lt.Config, ""), (lt.IMPConfig, "imp."), (lt.NetsConfig, "nets.")):
        for f in dataclasses.fields(cls):
            assert f.default is MISSING and f.default_factory is dataclasses.MISSING, prefix + f.name
    for scale in ("smoke", "laptop", "paper"):
        exp = compose(["experiment=lottery_ticket", f"scale={scale}"]).experiment
        assert isinstance(exp.imp, lt.IMPConfig) and isinstance(exp.nets, lt.NetsConfig)


@pytest.mark.parametrize(
    "key,line",
    [
        ("experiment.imp.rewind_iteration", "  rewind_iteration: 100\n"),
        ("experiment.nets.eval_every", "  eval_every: 500\n"),
    ],
)
def test_a_value_removed_from_conf_is_an_error_naming_it(tmp_path, monkeypatch, key, line):
    import shutil

    from repro.config import ConfigError, compose, conf_dir

    shutil.copytree(conf_dir(), tmp_path / "conf")
    protocol = tmp_path / "conf/experiment/lottery_ticket.yaml"
    text = protocol.read_text()
    assert text.count(line) == 1
    protocol.write_text(text.replace(line, ""))
    monkeypatch.setenv("REPRO_CONF_DIR", str(tmp_path / "conf"))
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        compose(["experiment=lottery_ticket", "scale=laptop"])
