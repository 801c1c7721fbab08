"""The F-Principle claims as revised on 2026-12-04 (issues 11 and 16): FP1's first crossings on two grids with the
seed-mean beside the per-seed vote, FP2's times on class-centred targets, FP3 against the exact kernel; and the
preconditions that a time censored by the budget (or a kernel that left its regime) never makes a claim fail.
Hand-made tables; every revised rule gives all three verdicts, and a failed precondition makes the verdict
inconclusive with its reason and remedy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_f_principle import NOBIAS, all_combos, fp1_table, fp2_table, fp3_table, kernel_times

from repro.claims import Status
from repro.config import compose
from repro.experiments.f_principle import claims as fpc

R, N, U = Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE
ORDERED = [100.0, 200.0, 300.0]
TANH = ("off_bin", "tanh", "rising")


@pytest.fixture(scope="module")
def cfg():
    return compose(["experiment=f_principle", "scale=laptop", "tracking=disabled"])


def claim(claim_id: str):
    return next(c for c in fpc.CLAIMS if c.id == claim_id)


# ---------------------------------------------------------------- FP1


def test_fp1_seed_mean_can_fail_where_the_per_seed_vote_passes(cfg):
    """Every seed captures its peaks in order, but the seed-mean Δ_F of the lowest peak falls below 0.1 only after
    the next one's (one seed's lowest peak bounces back above 0.1 after its first crossing)."""
    table = fp1_table(all_combos([ORDERED] * 5), mean={("on_bin", "relu", "rising"): [500.0, 460.0, 1600.0]})
    parts = fpc.fp1_parts(table, cfg)
    seeds, mean = parts[-4:-2]  # on_bin/relu/rising, the third of the four on-bin combinations
    assert "on_bin/relu/rising" in seeds.measured and seeds.status is R and "5/5 seeds" in seeds.measured
    assert mean.status is N and "500 < 460 < 1600" in mean.measured
    out = claim("FP1").evaluate(table, cfg)
    assert out["status"] == "not reproduced" and out["preconditions"][0]["holds"] is True


def test_fp1_three_verdicts_with_the_seed_mean(cfg):
    assert claim("FP1").evaluate(fp1_table(all_combos([ORDERED] * 5)), cfg)["status"] == "reproduced"
    bad = fp1_table(
        all_combos([ORDERED] * 5, {("off_bin", "relu", "rising"): [[900.0, 200.0, 300.0]] * 3 + [ORDERED] * 2})
    )
    assert claim("FP1").evaluate(bad, cfg)["status"] == "not reproduced"
    assert claim("FP1").evaluate(fp1_table(all_combos([ORDERED] * 3)), cfg)["status"] == "inconclusive"


def test_fp1_censored_peaks_make_it_inconclusive_not_a_failure(cfg):
    """Two seeds never bring their two highest peaks below 0.1 within the budget: they could make the vote pass or
    fail, and the mean's two highest peaks are censored too. Under-powered, with the remedy."""
    censored = fp1_table(
        all_combos([ORDERED] * 5, {TANH: [ORDERED] * 3 + [[100, np.nan, np.nan]] * 2}),
        mean={TANH: [100.0, np.nan, np.nan]},
    )
    out = claim("FP1").evaluate(censored, cfg)
    assert out["status"] == "inconclusive" and out["rule_status"] == "inconclusive"
    [pre] = out["preconditions"]
    assert pre["holds"] is False and "censored" in pre["measured"]
    assert out["inconclusive_because"].startswith("under-powered at this scale")
    assert "experiment.fp1.steps" in out["would_test_it"]


def test_fp1_a_censored_top_peak_is_decided(cfg):
    """Only the highest peak is censored: it is later than every measured one, so the order is known and the
    precondition holds; a censored lowest peak with measured higher ones is a failure, not a censoring."""
    top = fp1_table(all_combos([ORDERED] * 5, {TANH: [[100, 200, np.nan]] * 5}), mean={TANH: [100.0, 200.0, np.nan]})
    out = claim("FP1").evaluate(top, cfg)
    assert out["status"] == "reproduced" and out["preconditions"][0]["holds"] is True
    low = fp1_table(all_combos([ORDERED] * 5, {TANH: [[np.nan, 200, 300]] * 5}), mean={TANH: [np.nan, 200.0, 300.0]})
    out = claim("FP1").evaluate(low, cfg)
    assert out["status"] == "not reproduced" and out["preconditions"][0]["holds"] is True


def test_fp1_censored_but_measured_seeds_already_fail(cfg):
    table = fp1_table(
        all_combos(
            [ORDERED] * 5,
            {
                TANH: [ORDERED] * 3 + [[100, np.nan, np.nan]] * 2,
                ("on_bin", "relu", "rising"): [[900.0, 200.0, 300.0]] * 5,
            },
        )
    )
    out = claim("FP1").evaluate(table, cfg)
    assert out["status"] == "not reproduced" and out["preconditions"][0]["holds"] is True


# ---------------------------------------------------------------- FP2


def test_fp2_each_threshold_and_share_must_hold(cfg):
    high = [[1.0, 1.0, 0.4, 0.05]] * 5
    early = [[1.2, 0.45, 0.08, 0.01]] * 5
    table = fp2_table(early, high)
    assert claim("FP2").evaluate(table, cfg)["status"] == "reproduced"
    # at the 0.7 share, e_low reaches 0.1 only at step 1000, as e_high does: that part fails
    late = fp2_table([[1.2, 0.45, 0.4, 0.05]] * 5, high, shares=(0.7,))
    table = pd.concat([fp2_table(early, high, shares=(0.3, 0.5)), late], ignore_index=True)
    parts = fpc.fp2_parts(table, cfg)
    assert [p.status for p in parts] == [R, R, R, R, R, N]
    assert claim("FP2").evaluate(table, cfg)["status"] == "not reproduced"


def test_fp2_e_high_censored_is_decided_by_the_budget(cfg):
    """e_high never reaches 0.1 within the 1000 steps, e_low does at step 100: t_high > 1000 ≥ 2 × 100, so the seed
    holds; were e_low's time above half the budget, the seed would be undecided."""
    ok = fp2_table([[1.2, 0.45, 0.08, 0.01]] * 5, [[1.0, 1.0, 0.4, 0.2]] * 5)
    out = claim("FP2").evaluate(ok, cfg)
    assert out["status"] == "reproduced" and out["preconditions"][0]["holds"] is True
    late = fp2_table([[1.2, 0.45, 0.3, 0.08]] * 5, [[1.0, 1.0, 0.4, 0.2]] * 5, steps=(0, 10, 100, 600))
    part = fpc.fp2_parts(late, cfg)[1]
    assert part.status is U and part.open  # 0.1: e_low at 600 > 600 / 2: e_high's censored time cannot tell
    out = claim("FP2").evaluate(late, cfg)
    assert out["status"] == "inconclusive" and out["preconditions"][0]["holds"] is False


# ---------------------------------------------------------------- FP3


def test_fp3_censored_seeds_are_undecided_never_a_failure(cfg):
    cubic = {k: [10.0 * k**3] * 5 for k in range(1, 9)}
    never = {k: [np.nan] * 2 + v[2:] if k == 8 else v for k, v in cubic.items()}
    # 3 measured seeds with a cubic slope fail: not reproduced from measured times, the precondition holds
    out = claim("FP3").evaluate(fp3_table(never, {}), cfg)
    assert out["status"] == "not reproduced" and out["preconditions"][0]["holds"] is True
    # two censored seeds, three at the kernel's times: the censored seeds decide; inconclusive, under-powered
    mixed = {k: [np.nan if (k == 8 and s < 2) else v for s, v in enumerate(vs)] for k, vs in kernel_times(cfg).items()}
    out = claim("FP3").evaluate(fp3_table(mixed, {}), cfg)
    assert out["status"] == "inconclusive" and out["rule_status"] == "inconclusive"
    assert out["preconditions"][0]["holds"] is False and "experiment.fp3.max_steps" in out["would_test_it"]
    # one censored seed, four at the kernel's times: reproduced whatever it would have shown
    one = {k: [np.nan if (k == 8 and s == 0) else v for s, v in enumerate(vs)] for k, vs in kernel_times(cfg).items()}
    out = claim("FP3").evaluate(fp3_table(one, {}), cfg)
    assert out["status"] == "reproduced" and out["preconditions"][0]["holds"] is True


def test_fp3_kernel_drift_beyond_the_allowance_is_undecided(cfg):
    """Times that agree with the kernel, but the kernel moved during training by more than its allowance (3 standard
    deviations of its initial sampling error) at k = 8: outside the kernel regime, part (a) is undecided and the
    precondition fails, naming the width; within the allowance it holds."""
    c = cfg.experiment.fp3
    ref = fpc.fp3_reference(range(2, 9), c.n_points, c.lr, c.width)
    beyond = fp3_table(kernel_times(cfg), NOBIAS, drift={8: 2 * ref["drift_max"][8]})
    a, b = fpc.fp3_parts(beyond, cfg)
    assert a.status is U and a.open and "5 seed(s) beyond it" in a.measured and b.status is R
    out = claim("FP3").evaluate(beyond, cfg)
    assert out["status"] == "inconclusive" and out["preconditions"][0]["holds"] is False
    assert "experiment.fp3.width" in out["would_test_it"]
    within = fp3_table(kernel_times(cfg), NOBIAS, drift={8: 0.5 * ref["drift_max"][8]})
    assert claim("FP3").evaluate(within, cfg)["status"] == "reproduced"


def test_fp3_slow_at_high_k_fails_on_the_kernel_part(cfg):
    """Within the kernel regime, times that grow faster than the kernel's (k = 8 taking 40% longer) put the slope
    beyond the tolerance: not reproduced, though the odd-k slope alone stays in [1.5, 2.5]."""
    times = kernel_times(cfg)
    times |= {k: [v * (1 + 0.4 * (k - 2) / 6) for v in times[k]] for k in range(2, 9)}
    a, b = fpc.fp3_parts(fp3_table(times, {}), cfg)
    assert a.status is N and b.status is R
    assert claim("FP3").evaluate(fp3_table(times, {}), cfg)["status"] == "not reproduced"


# ---------------------------------------------------------------- revision log


def test_revised_claims_carry_their_history():
    c = {cl.id: cl for cl in fpc.CLAIMS}
    assert [len(c[i].history) for i in ("FP1", "FP2", "FP3", "FP3-control")] == [2, 1, 2, 1]
    # FP3-control's rule is unchanged; its protocol (the shared init scale) changed, so it is logged and re-judged
    assert c["FP3-control"].history[0].old_rule == c["FP3-control"].rule
    assert c["FP3-control"].history[0].old_verdict.startswith("reproduced: odd k ≥ 3 unlearned")
    for cid in ("FP1", "FP2", "FP3"):
        assert c[cid].preconditions
        for r in c[cid].history:
            assert r.date == "2026-12-04" and r.reason and r.old_rule
            assert r.old_verdict.split(":")[0] in {s.value for s in Status}, r.old_verdict
        assert c[cid].history[-1].old_rule != c[cid].rule  # the rule of issue 16 is new
        assert "Issue 16" in c[cid].history[-1].reason
    # the old rules of issue 16's revisions are the previous versions verbatim, and their verdicts are seeds 100-104's
    assert c["FP1"].history[1].old_rule == fpc.FP1_RULE_V2 and "seed-mean" in fpc.FP1_RULE_V2
    assert c["FP1"].history[1].old_verdict.startswith("not reproduced: tanh/rising: ordered in 5/5 seeds")
    assert c["FP2"].history[0].old_verdict.startswith("reproduced: δ=0.05")
    assert c["FP3"].history[1].old_rule == c["FP3"].history[0].old_rule == fpc.FP3_RULE_V1
    assert "on-bin" in c["FP1"].rule
    assert "| |ĥ_k| − |ŷ_k| |" in c["FP1"].rule
    assert "centred" in c["FP2"].rule and "exact kernel" in c["FP3"].rule


def test_revised_rules_are_judged_on_fresh_seeds():
    e = compose(["experiment=f_principle", "scale=laptop"]).experiment
    assert e.first_seed == 300  # seeds 0-4 and 100-104 judged the earlier versions; 900+ only tried budgets


def test_every_claim_without_data_is_inconclusive(cfg):
    empty = pd.DataFrame(columns=["grid", "activation", "target", "seed", "step", "peak", "freq", "metric", "value"])
    for c in fpc.CLAIMS:
        assert c.evaluate(empty, cfg)["status"] == "inconclusive", c.id
