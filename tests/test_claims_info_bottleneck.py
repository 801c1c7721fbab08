"""The information-bottleneck claims, rule version 3 (issue 14): Saxe et al.'s fixed-width bins and KDE for IB2 and
IB4, IB1 split into IB1a (tanh compresses) and IB1b (after fitting), IB3 within the compression window, a robust drop
measure, and pinned layers that leave a verdict inconclusive, never a pass. Hand-made tables; every revised rule
gives all three verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from repro.claims import Status
from repro.config import compose
from repro.experiments.info_bottleneck import claims as ibc

R, N, U = Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE
K = 40  # records per curve
STEPS = [200 * i for i in range(K)]


def ramp(*knots: tuple[int, float]) -> np.ndarray:
    """A curve through (record, value) knots, linear between them, constant beyond the ends."""
    idx, vals = zip(*knots)
    return np.interp(np.arange(K), idx, vals)


FIT = ramp((0, 0.3), (12, 0.95), (39, 0.97))  # I(T;Y): learned by record 12
COMPRESS = (ramp((0, 3.0), (15, 6.0), (30, 4.5)), FIT)  # fit, then drop 1.5 bits
BIG_DROP = (ramp((0, 3.0), (15, 9.0), (30, 6.0)), FIT)  # fit, then drop 3 bits
FLAT = (ramp((0, 3.0), (15, 6.0)), FIT)  # fit, no compression
EARLY = (ramp((0, 3.0), (4, 6.0), (14, 4.5)), ramp((0, 0.1), (35, 0.97)))  # drops before the label is learned
SPIKE = (FLAT[0] + np.where(np.arange(K) == 20, 1.0, 0.0) - np.where(np.arange(K) == K - 1, 0.6, 0.0), FIT)
PINNED = (np.full(K, 12.0), np.full(K, 0.99))


def curves_table(curves: dict, sat: dict | None = None) -> pd.DataFrame:
    """curves[(protocol, activation, estimator, layer)] = [(ixt, ity) of seed 0, of seed 1, ...];
    sat[(protocol, activation, layer)] = saturated fraction per record, the same for every seed."""
    rows = []
    for (proto, act, est, layer), per_seed in curves.items():
        for s, (ixt, ity) in enumerate(per_seed):
            for st, a, b in zip(STEPS, ixt, ity):
                base = dict(protocol=proto, activation=act, seed=s, layer=layer, estimator=est, step=st)
                rows += [base | dict(metric="ixt", value=a), base | dict(metric="ity", value=b)]
    seeds = {s for per_seed in curves.values() for s in range(len(per_seed))}
    for (proto, act, layer), values in (sat or {}).items():
        for s in seeds:
            rows += [
                dict(
                    protocol=proto,
                    activation=act,
                    seed=s,
                    layer=layer,
                    estimator="",
                    step=st,
                    metric="saturation",
                    value=v,
                )
                for st, v in zip(STEPS, values)
            ]
    return pd.DataFrame(rows)


def deep(proto: str, act: str, est: str, per_seed: list) -> dict:
    """Layers 1-2 pinned at 12 bits in every seed; layers 3-4 follow `per_seed` (one curve per seed)."""
    return {
        (proto, act, est, 1): [PINNED] * len(per_seed),
        (proto, act, est, 2): [PINNED] * len(per_seed),
        (proto, act, est, 3): per_seed,
        (proto, act, est, 4): per_seed,
    }


def st_tanh(per_seed):
    return deep("st", "tanh", "st30", per_seed)


def relu(est, per_seed):
    return deep("saxe", "relu", est, per_seed)


def claim(claim_id: str):
    return next(c for c in ibc.CLAIMS if c.id == claim_id)


def status(claim_id: str, t: pd.DataFrame, cfg=None) -> str:
    return claim(claim_id).evaluate(t, cfg)["status"]


# ---------------------------------------------------------------- the robust drop


def test_the_drop_is_a_smoothed_peak_minus_the_mean_of_the_last_records():
    w = pd.DataFrame({"ixt": COMPRESS[0], "ity": COMPRESS[1]})
    drop, peak = ibc.compression(w)
    # a sharp peak at 6.0 among 5.6, 5.8 | 5.9, 5.8: its rolling median is 5.8; the tail mean 4.5
    assert drop == pytest.approx(1.3, abs=1e-9) and 13 <= peak <= 17
    # one noisy record up and the last one down: the old max-minus-last read 1.6 bits, the robust measure ~0
    spike = pd.DataFrame({"ixt": SPIKE[0], "ity": SPIKE[1]})
    assert spike["ixt"].max() - spike["ixt"].iloc[-1] >= 1.5
    assert ibc.compression(spike)[0] == pytest.approx(0.6 / 4) and not ibc.compresses(spike)  # tail of 4 records


def test_the_compression_window_ends_when_most_of_the_drop_is_done():
    w = pd.DataFrame({"ixt": COMPRESS[0], "ity": COMPRESS[1]})
    window = ibc.compression_window(w)
    drop, peak = ibc.compression(w)
    assert window.start == peak and 26 <= window.stop - 1 <= 30  # 90% of 1.5 bits done at ~record 28, not 39


# ---------------------------------------------------------------- IB1a


def test_ib1a_three_verdicts_and_the_seed_mean():
    assert status("IB1a", curves_table(st_tanh([COMPRESS] * 8))) == "reproduced"
    assert status("IB1a", curves_table(st_tanh([FLAT] * 8))) == "not reproduced"
    assert status("IB1a", curves_table(st_tanh([COMPRESS] * 5))) == "inconclusive"  # fewer than 8 seeds
    # three seeds drop 3 bits, five do not: the mean drops over a bit, the vote fails
    seeds, mean = ibc.ib1a_parts(curves_table(st_tanh([BIG_DROP] * 3 + [FLAT] * 5)))
    assert seeds.status is N and mean.status is R
    # Saxe et al.'s networks never stand in for Shwartz-Ziv & Tishby's
    out = claim("IB1a").evaluate(curves_table(deep("saxe", "tanh", "st30", [COMPRESS] * 8)), None)
    assert out["status"] == "inconclusive" and out["measured"] == "n/a"


def test_ib1a_pinned_seeds_leave_it_open():
    out = claim("IB1a").evaluate(curves_table(st_tanh([COMPRESS] * 6 + [PINNED] * 2)), None)
    assert out["status"] == "inconclusive" and out["preconditions"][0]["holds"] is False
    assert "2/8 seeds" in out["preconditions"][0]["measured"]
    out = claim("IB1a").evaluate(curves_table(st_tanh([FLAT] * 6 + [PINNED] * 2)), None)
    assert out["status"] == "not reproduced" and out["preconditions"][0]["holds"] is True


# ---------------------------------------------------------------- IB1b


def test_ib1b_three_verdicts():
    assert status("IB1b", curves_table(st_tanh([COMPRESS] * 8))) == "reproduced"
    assert status("IB1b", curves_table(st_tanh([EARLY] * 8))) == "not reproduced"  # compression before fitting
    out = claim("IB1b").evaluate(curves_table(st_tanh([FLAT] * 8)), None)  # nothing to order
    assert out["status"] == "inconclusive"
    assert [p["holds"] for p in out["preconditions"]] == [False]
    assert "IB1a reproduced" in out["would_test_it"]


def test_ib1b_judges_only_the_seeds_that_compress():
    """Six seeds fit then compress, two do not compress at all: undecided, and 6/8 could still reach 80%."""
    seeds, _ = ibc.ib1b_parts(curves_table(st_tanh([COMPRESS] * 6 + [FLAT] * 2)))
    assert seeds.status is U and seeds.open and "6/8" in seeds.measured
    seeds, _ = ibc.ib1b_parts(curves_table(st_tanh([COMPRESS] * 7 + [EARLY])))
    assert seeds.status is R  # 7/8 = 88%


# ---------------------------------------------------------------- IB2: Saxe's bins and KDE


def test_ib2_three_verdicts():
    ok = curves_table({**relu("width0.07", [FLAT] * 8), **relu("kde", [FLAT] * 8)})
    assert status("IB2", ok) == "reproduced"
    assert (
        status("IB2", curves_table({**relu("width0.07", [COMPRESS] * 8), **relu("kde", [FLAT] * 8)}))
        == "not reproduced"
    )
    assert (
        status("IB2", curves_table({**relu("width0.07", [FLAT] * 8), **relu("kde", [COMPRESS] * 8)}))
        == "not reproduced"
    )
    assert status("IB2", curves_table({**relu("width0.07", [FLAT] * 5), **relu("kde", [FLAT] * 5)})) == "inconclusive"
    # a spike and a low last record are not compression
    assert status("IB2", curves_table({**relu("width0.07", [SPIKE] * 8), **relu("kde", [SPIKE] * 8)})) == "reproduced"


def test_ib2_pinned_kde_is_inconclusive_never_a_pass():
    pinned_kde = {(("saxe", "relu", "kde", lay)): [PINNED] * 8 for lay in (1, 2, 3, 4)}
    out = claim("IB2").evaluate(curves_table({**relu("width0.07", [FLAT] * 8), **pinned_kde}), None)
    assert out["status"] == "inconclusive" and out["rule_status"] == "inconclusive"
    assert (
        out["preconditions"][0]["holds"] is False
        and "relu kde: every hidden layer pinned" in out["preconditions"][0]["measured"]
        and "KDE" in out["would_test_it"]
    )
    # ... and it never hides a failure of the bins
    out = claim("IB2").evaluate(curves_table({**relu("width0.07", [COMPRESS] * 8), **pinned_kde}), None)
    assert out["status"] == "not reproduced" and out["preconditions"][0]["holds"] is True


def test_ib2_width_rows_read_their_own_width():
    t = curves_table({**relu("width0.035", [FLAT] * 8), **relu("width0.14", [COMPRESS] * 8)})
    assert status("IB2-w0.035", t) == "reproduced" and status("IB2-w0.14", t) == "not reproduced"
    assert status("IB2", t) == "inconclusive"  # no width0.07 rows: missing data


# ---------------------------------------------------------------- IB3: within the compression window


RISING = ramp((0, 0.0), (15, 0.1), (30, 0.8), (39, 0.8))  # saturates while I(X;T) falls
FALLING = ramp((0, 0.9), (15, 0.8), (30, 0.1), (39, 0.1))
RISE_THEN_BACK = ramp((0, 0.0), (15, 0.1), (28, 0.8), (39, 0.0))  # saturates in the window, then relaxes


def saxe_tanh(per_seed, sat):
    return curves_table(
        {**deep("saxe", "tanh", "width0.07", per_seed), **relu("width0.07", [FLAT] * 8)},
        sat={("saxe", "tanh", 3): sat, ("saxe", "tanh", 4): sat},
    )


def test_ib3_three_verdicts():
    assert status("IB3", saxe_tanh([COMPRESS] * 8, RISING)) == "reproduced"
    assert status("IB3", saxe_tanh([COMPRESS] * 8, FALLING)) == "not reproduced"
    assert status("IB3", saxe_tanh([FLAT] * 8, RISING)) == "inconclusive"  # no compression to correlate
    # the control: ReLU compressing under the same bins fails the claim
    t = curves_table(
        {**deep("saxe", "tanh", "width0.07", [COMPRESS] * 8), **relu("width0.07", [COMPRESS] * 8)},
        sat={("saxe", "tanh", 3): RISING, ("saxe", "tanh", 4): RISING},
    )
    assert status("IB3", t) == "not reproduced"


def test_ib3_reads_the_window_not_the_flat_tail():
    """Saturation rises while I(X;T) falls, then relaxes while I(X;T) stays flat: within the window ρ = -1."""
    rhos, short = ibc.saturation_cases(saxe_tanh([COMPRESS] * 8, RISE_THEN_BACK))
    assert short == 0 and len(rhos) == 16 and max(rhos) <= -0.95
    assert status("IB3", saxe_tanh([COMPRESS] * 8, RISE_THEN_BACK)) == "reproduced"


# ---------------------------------------------------------------- IB4: the artefact against Saxe's bins


def test_ib4_three_verdicts():
    artefact = curves_table(
        {**relu("st30", [COMPRESS] * 8), **relu("width0.07", [FLAT] * 8), **relu("adaptive30", [COMPRESS] * 8)}
    )
    out = claim("IB4").evaluate(artefact, None)
    assert out["status"] == "reproduced" and "range-adaptive" in out["measured"]  # shown, not judged
    assert (
        status("IB4", curves_table({**relu("st30", [FLAT] * 8), **relu("width0.07", [FLAT] * 8)})) == "not reproduced"
    )
    assert (
        status("IB4", curves_table({**relu("st30", [COMPRESS] * 8), **relu("width0.07", [COMPRESS] * 8)}))
        == "not reproduced"
    )
    assert (
        status("IB4", curves_table({**relu("st30", [COMPRESS] * 4), **relu("width0.07", [FLAT] * 4)})) == "inconclusive"
    )


# ---------------------------------------------------------------- IB5: the MNIST network


@pytest.fixture(scope="module")
def paper_cfg():
    return compose(["experiment=info_bottleneck", "scale=paper"])  # n_test = 10000


def mnist_table(drops: dict[str, float], seeds=8) -> pd.DataFrame:
    """KDE curves of the MNIST network: layer 1 pinned at log2(10000), layers 2-4 rise then drop by drops[act]."""
    rows = []
    for act, drop in drops.items():
        for s in range(seeds):
            for layer in (1, 2, 3, 4):
                ixt = np.full(K, np.log2(10_000)) if layer == 1 else ramp((0, 6.0), (15, 9.0), (30, 9.0 - drop))
                for st, v in zip(STEPS, ixt):
                    for metric, val in (("ixt", v), ("ity", 2.0)):
                        rows.append(
                            dict(
                                shard="mnist",
                                activation=act,
                                seed=s,
                                layer=layer,
                                estimator="kde",
                                step=st,
                                metric=metric,
                                value=val,
                            )
                        )
    return pd.DataFrame(rows)


def test_ib5_three_verdicts_and_pinned_layers(paper_cfg):
    assert status("IB5", mnist_table({"tanh": 1.5, "relu": 0.1}), paper_cfg) == "reproduced"
    assert status("IB5", mnist_table({"tanh": 0.2, "relu": 0.1}), paper_cfg) == "not reproduced"
    assert status("IB5", mnist_table({"tanh": 1.5, "relu": 1.0}), paper_cfg) == "not reproduced"
    assert status("IB5", mnist_table({"tanh": 1.5, "relu": 0.1}, seeds=5), paper_cfg) == "inconclusive"
    t = mnist_table({"tanh": 1.5, "relu": 0.1})
    t.loc[(t.activation == "relu") & (t.metric == "ixt"), "value"] = np.log2(10_000)  # every ReLU layer pinned
    out = claim("IB5").evaluate(t, paper_cfg)
    assert out["status"] == "inconclusive" and out["preconditions"][0]["holds"] is False


def test_the_12_bit_claims_never_read_the_mnist_rows(paper_cfg):
    laptop = curves_table(st_tanh([COMPRESS] * 8)).assign(shard="tanh-st")
    assert status("IB5", laptop, paper_cfg) == "inconclusive"  # no MNIST network below paper scale
    both = pd.concat([laptop, mnist_table({"tanh": 0.0, "relu": 0.0}).assign(estimator="st30", protocol="st")])
    assert status("IB1a", both) == "reproduced"


# ---------------------------------------------------------------- revision log


def test_every_revised_claim_carries_its_history():
    ids = [c.id for c in ibc.CLAIMS]
    assert ids == ["IB1a", "IB1b", "IB2", "IB3", "IB4", "IB5", "IB2-w0.035", "IB2-w0.14"]
    for c in ibc.CLAIMS:
        assert c.version == (2 if c.id == "IB3" else 3), c.id
        last = c.history[-1]
        assert last.date == "2026-12-04" and "issue 14" in last.reason and last.old_rule
        assert last.old_verdict.split(":")[0] in {s.value for s in Status}, last.old_verdict
    # IB1a and IB1b both descend from IB1: its version-2 rule, word for word, and its verdict
    for cid in ("IB1a", "IB1b"):
        assert claim(cid).history[-1].old_rule == ibc.IB1_RULE_V2
        assert claim(cid).history[-1].old_verdict.startswith("not reproduced: tanh, bin30")
    assert "bins10" in claim("IB2-w0.035").history[-1].reason or "IB2-bins10" in claim("IB2-w0.035").history[-1].reason


def test_the_revised_rules_are_judged_on_fresh_seeds():
    cfg = compose(["experiment=info_bottleneck", "scale=laptop"])
    assert cfg.experiment.first_seed == 300 and len(cfg.seeds) == 8
    assert min(cfg.seeds) > 104  # versions 1 and 2 were judged on seeds 0-4 and 100-104
