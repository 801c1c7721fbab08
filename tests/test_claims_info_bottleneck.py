"""The information-bottleneck claims revised on 2026-12-04 (issue 11): IB1's seed-mean check beside the per-seed
vote, and the precondition that the layers a rule reads are not pinned at the ceiling log2(n): a pinned seed counts
neither for nor against a claim, and when pinned seeds leave a verdict open it is inconclusive, with the reason
and what would test it. Hand-made tables; every revised rule gives all three verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_info_bottleneck import COMPRESS, FLAT, PINNED, STEPS, layers, mnist_table, table

from repro.claims import Status
from repro.config import compose
from repro.experiments.info_bottleneck import claims as ibc

R, N, U = Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE
RISE = ([3.0, 5.0, 6.0, 7.0, 9.0, 11.5], [0.3, 0.8, 0.95, 0.96, 0.97, 0.97])  # keeps gaining information to the end
BIG_DROP = ([3.0, 5.0, 9.0, 8.0, 7.0, 6.0], [0.3, 0.8, 0.95, 0.96, 0.97, 0.97])  # fit, then drop 3 bits
ALL_PINNED = PINNED


def seed_table(curves: dict[tuple[str, str, int], list[tuple[list[float], list[float]]]]) -> pd.DataFrame:
    """curves[(activation, estimator, layer)] = [(ixt per step, ity per step) of seed 0, of seed 1, ...]."""
    rows = []
    for (act, est, layer), per_seed in curves.items():
        for s, (ixt, ity) in enumerate(per_seed):
            for st, a, b in zip(STEPS, ixt, ity):
                rows.append(dict(activation=act, seed=s, layer=layer, estimator=est, step=st, metric="ixt", value=a))
                rows.append(dict(activation=act, seed=s, layer=layer, estimator=est, step=st, metric="ity", value=b))
    return pd.DataFrame(rows)


def deep(act: str, est: str, per_seed: list) -> dict:
    """Layers 1-2 pinned in every seed; layers 3-4 follow `per_seed` (one curve per seed)."""
    return {(act, est, 1): [PINNED] * len(per_seed), (act, est, 2): [PINNED] * len(per_seed),
            (act, est, 3): per_seed, (act, est, 4): per_seed}


def everything_pinned(act: str, est: str, seeds: int = 5) -> dict:
    return {(act, est, lay): [ALL_PINNED] * seeds for lay in (1, 2, 3, 4)}


def claim(claim_id: str):
    return next(c for c in ibc.CLAIMS if c.id == claim_id)


@pytest.fixture(scope="module")
def paper_cfg():
    return compose(["experiment=info_bottleneck", "scale=paper"])  # n_test = 10000


# ---------------------------------------------------------------- pinned layers


def test_pinned_is_within_the_tolerance_of_the_ceiling_at_every_epoch():
    w = pd.DataFrame({"ixt": [12.0, 11.995, 12.0], "ity": [1.0] * 3})
    assert ibc.pinned(w)
    assert not ibc.pinned(w.assign(ixt=[12.0, 11.9, 12.0]))  # leaves the ceiling once: informative
    assert ibc.pinned(w.assign(ixt=[np.log2(40)] * 3), n=40) and not ibc.pinned(w.assign(ixt=[np.log2(40)] * 3))


def test_a_seed_with_every_layer_pinned_is_undecided_not_a_pass():
    t = seed_table({**deep("relu", "adaptive30", [FLAT] * 5), **everything_pinned("relu", "kde")})
    outcomes, _ = ibc.per_seed(t, "relu", "kde", lambda layers, chosen: True)
    assert set(outcomes.values()) == {None}
    part = ibc.no_compression_part(t, ("adaptive30", "kde"))
    assert part.status is U and part.open and "kde: every hidden layer pinned at the ceiling in 5/5 seeds" in \
        part.measured


# ---------------------------------------------------------------- IB2: KDE pinned


def test_ib2_pinned_kde_makes_it_inconclusive_never_a_pass():
    """Adaptive bins show no compression in every seed; KDE keeps every input apart in every layer of every seed.
    Rule version 1 read this as reproduced; the KDE part is no evidence, so the claim is under-powered."""
    t = seed_table({**deep("relu", "adaptive30", [FLAT] * 5), **everything_pinned("relu", "kde")})
    out = claim("IB2").evaluate(t, None)
    assert out["status"] == "inconclusive" and out["rule_status"] == "inconclusive"
    [pre] = out["preconditions"]
    assert pre["holds"] is False and "relu kde: every hidden layer pinned at log2(4096) = 12.00 bits in 5/5 seeds" \
        in pre["measured"]
    assert out["inconclusive_because"].startswith("under-powered at this scale") and "KDE" in out["would_test_it"]


def test_ib2_pinned_kde_never_hides_a_failure_of_the_adaptive_bins():
    t = seed_table({**deep("relu", "adaptive30", [COMPRESS] * 5), **everything_pinned("relu", "kde")})
    out = claim("IB2").evaluate(t, None)
    assert out["status"] == "not reproduced" and out["preconditions"][0]["holds"] is True
    # every seed fails under adaptive bins, whatever KDE would show: the pinned KDE leaves nothing open
    assert "relu kde: every hidden layer pinned at log2(4096) = 12.00 bits in 5/5 seeds" in \
        out["preconditions"][0]["measured"]


def test_ib2_three_verdicts_with_a_pinned_seed():
    one_pinned = {**deep("relu", "adaptive30", [FLAT] * 5), **deep("relu", "kde", [FLAT] * 4 + [ALL_PINNED])}
    out = claim("IB2").evaluate(seed_table(one_pinned), None)
    assert out["status"] == "reproduced" and out["preconditions"][0]["holds"] is True  # 4/5 hold whatever seed 4 is
    kde_compresses = {**deep("relu", "adaptive30", [FLAT] * 5), **deep("relu", "kde", [COMPRESS] * 4 + [FLAT])}
    assert claim("IB2").evaluate(seed_table(kde_compresses), None)["status"] == "not reproduced"
    two_pinned = {**deep("relu", "adaptive30", [FLAT] * 5), **deep("relu", "kde", [FLAT] * 3 + [ALL_PINNED] * 2)}
    out = claim("IB2").evaluate(seed_table(two_pinned), None)
    assert out["status"] == "inconclusive" and out["preconditions"][0]["holds"] is False
    # the bin variants read their own adaptive bins and the same KDE
    t = seed_table({**deep("relu", "adaptive10", [FLAT] * 5), **everything_pinned("relu", "kde")})
    assert claim("IB2-bins10").evaluate(t, None)["preconditions"][0]["holds"] is False


# ---------------------------------------------------------------- IB4: adaptive bins pinned


def test_ib4_pinned_adaptive_bins_are_no_evidence():
    t = seed_table({**deep("relu", "bin30", [COMPRESS] * 5), **everything_pinned("relu", "adaptive30")})
    out = claim("IB4").evaluate(t, None)
    assert out["status"] == "inconclusive" and out["rule_status"] == "inconclusive"  # version 1: reproduced
    assert out["preconditions"][0]["holds"] is False
    good = seed_table({**deep("relu", "bin30", [COMPRESS] * 5), **deep("relu", "adaptive30", [FLAT] * 5)})
    assert claim("IB4").evaluate(good, None)["status"] == "reproduced"
    no_artefact = seed_table({**deep("relu", "bin30", [FLAT] * 5), **deep("relu", "adaptive30", [FLAT] * 5)})
    assert claim("IB4").evaluate(no_artefact, None)["status"] == "not reproduced"
    # the fixed-bin part is left open by two pinned seeds, but the adaptive part fails on informative seeds
    t = seed_table({**deep("relu", "bin30", [COMPRESS] * 3 + [ALL_PINNED] * 2),
                    **deep("relu", "adaptive30", [COMPRESS] * 5)})
    fixed, adaptive = ibc.ib4_parts(t, None)
    assert fixed.open and fixed.status is U and adaptive.status is N
    out = claim("IB4").evaluate(t, None)
    assert out["status"] == "not reproduced" and out["preconditions"][0]["holds"] is True
    assert "already make the rule fail" in out["preconditions"][0]["measured"]


# ---------------------------------------------------------------- IB5: MNIST KDE pinned


def test_ib5_pinned_kde_layers_make_it_inconclusive(paper_cfg):
    t = mnist_table({"tanh": 1.5, "relu": 0.1})
    ceiling = np.log2(10_000)
    t.loc[(t.activation == "relu") & (t.metric == "ixt"), "value"] = ceiling  # every ReLU layer pinned
    out = claim("IB5").evaluate(t, paper_cfg)
    assert out["status"] == "inconclusive" and out["preconditions"][0]["holds"] is False
    assert "paper-scale" in out["would_test_it"]
    assert claim("IB5").evaluate(mnist_table({"tanh": 1.5, "relu": 0.1}), paper_cfg)["status"] == "reproduced"
    assert claim("IB5").evaluate(mnist_table({"tanh": 1.5, "relu": 1.0}), paper_cfg)["status"] == "not reproduced"


def test_ib5_below_paper_scale_is_under_powered(paper_cfg):
    out = claim("IB5").evaluate(table(layers("tanh", "bin30", COMPRESS)).assign(shard="ib"), paper_cfg)
    assert out["status"] == "inconclusive" and out["preconditions"][0]["holds"] is None
    assert out["inconclusive_because"].startswith("under-powered at this scale")


# ---------------------------------------------------------------- IB1: the seed-mean check


def test_ib1_seed_mean_can_fail_where_the_per_seed_vote_passes():
    """Four seeds fit then compress; the fifth keeps gaining information to the end. The vote holds (4/5), but the
    mean over seeds drops only 0.1 bits from its peak: the curve the paper shows does not compress."""
    t = seed_table(deep("tanh", "bin30", [COMPRESS] * 4 + [RISE]))
    seeds, mean = ibc.ib1_parts(t, "bin30")
    assert seeds.status is R and "4/5 seeds" in seeds.measured
    assert mean.status is N and "L3 0.10" in mean.measured
    assert ibc.check_ib1(t, None).status is N


def test_ib1_per_seed_vote_can_fail_where_the_seed_mean_passes():
    """Two seeds drop 3 bits, three do not compress: the mean drops 1.2 bits, but the vote fails."""
    t = seed_table(deep("tanh", "bin30", [BIG_DROP] * 2 + [FLAT] * 3))
    seeds, mean = ibc.ib1_parts(t, "bin30")
    assert seeds.status is N and mean.status is R
    assert claim("IB1").evaluate(t, None)["status"] == "not reproduced"


def test_ib1_three_verdicts_and_pinned_seeds():
    assert claim("IB1").evaluate(seed_table(deep("tanh", "bin30", [COMPRESS] * 5)), None)["status"] == "reproduced"
    assert claim("IB1").evaluate(seed_table(deep("tanh", "bin30", [FLAT] * 5)), None)["status"] == "not reproduced"
    # two seeds pinned in every layer, three compress: the pinned seeds decide; under-powered
    out = claim("IB1").evaluate(seed_table(deep("tanh", "bin30", [COMPRESS] * 3 + [ALL_PINNED] * 2)), None)
    assert out["status"] == "inconclusive" and out["rule_status"] == "inconclusive"
    assert out["preconditions"][0]["holds"] is False and "2/5 seeds" in out["preconditions"][0]["measured"]
    # one pinned seed cannot change 4/5
    out = claim("IB1").evaluate(seed_table(deep("tanh", "bin30", [COMPRESS] * 4 + [ALL_PINNED])), None)
    assert out["status"] == "reproduced" and out["preconditions"][0]["holds"] is True
    # two pinned, three flat: the informative seeds already fail
    out = claim("IB1").evaluate(seed_table(deep("tanh", "bin30", [FLAT] * 3 + [ALL_PINNED] * 2)), None)
    assert out["status"] == "not reproduced" and out["preconditions"][0]["holds"] is True
    # the bin variants read their own estimator
    t = seed_table(deep("tanh", "bin10", [COMPRESS] * 5))
    assert claim("IB1-bins10").evaluate(t, None)["status"] == "reproduced"
    assert claim("IB1").evaluate(t, None)["status"] == "inconclusive"  # no bin30 rows: missing data


# ---------------------------------------------------------------- revision log


def test_revised_claims_carry_their_history():
    revised = {c.id: c for c in ibc.CLAIMS if c.history}
    assert set(revised) == {"IB1", "IB1-bins10", "IB1-bins100", "IB2", "IB2-bins10", "IB2-bins100", "IB4", "IB5"}
    for c in revised.values():
        assert c.version == 2 and c.preconditions
        [r] = c.history
        assert r.date == "2026-12-04" and r.reason and r.old_rule
        assert r.old_verdict.split(":")[0] in {s.value for s in Status}, r.old_verdict
    assert "seed-mean" in revised["IB1"].rule and "seed-mean" not in revised["IB1"].history[0].old_rule
    assert revised["IB1-bins10"].history[0].old_rule.endswith("10 bins over [-1, 1].")
    assert claim("IB3").version == 1
