"""The unrolling claims on hand-made tables: every rule gives all three verdicts, the paired intervals are read
against the rule's threshold, and the convergence precondition turns a verdict read from a network that is still
improving into "inconclusive" (keeping the rule's own outcome), never into "not reproduced"."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from repro.claims import Status
from repro.experiments.unrolling import claims as uc

R, N, U = Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE
SEEDS = (100, 101, 102)
FLAT = {0: -5.0, 600: -20.0, 1080: -30.0, 1200: -30.2}  # 0.2 dB over the last 10%: converged
RISING = {0: -5.0, 600: -15.0, 1080: -20.0, 1200: -22.0}  # 2 dB over the last 10%: still improving


def claim(cid: str):
    return next(c for c in uc.CLAIMS if c.id == cid)


def evaluate(cid: str, table: pd.DataFrame) -> dict:
    return claim(cid).evaluate(table, None)


def status(cid: str, table: pd.DataFrame) -> Status:
    return Status(evaluate(cid, table)["status"])


def ista_like(at16: float, at_end: float, end: int = 2000) -> dict[int, float]:
    """Sublinear: fast at first, then slow; NMSE at 16 iterations `at16`."""
    pts = {0: 0.0, **{k: at16 * (1 - (1 - k / 16) ** 3) for k in range(1, 17)}}
    pts.update({100: (at16 + at_end) / 2, end: at_end})
    return pts


CLASSICAL = {
    ("ista", 0.1): ista_like(-8.0, -30.0),
    ("ista", 0.01): ista_like(-5.0, -45.0),
    ("fista", 0.1): ista_like(-12.0, -30.0),
}  # the better baseline at 16: FISTA, -12 dB


def line(at16: float) -> list[float]:
    """A straight line in dB through 0 at layer 0 and `at16` at layer 16."""
    return [at16 * k / 16 for k in range(1, 17)]


def sparse_table(
    curves: dict, *, noise="noiseless", seeds=SEEDS, classical=CLASSICAL, oracle=-46.0, training: dict | None = None
) -> pd.DataFrame:
    """curves[method] = NMSE per layer 1..16 (the same for every seed) or {seed: NMSE per layer};
    training[method] = the validation curve {step: dB} (every seed), or {seed: curve}; default FLAT for every
    learned method (converged); classical[(method, lam)] = {iteration: NMSE} plus val at 16 (seed -1)."""
    rows = []
    training = {m: FLAT for m in curves} if training is None else training

    def per_seed(v, s):
        return v[s] if isinstance(v, dict) and s in v else v

    for m, c in curves.items():
        for s in seeds:
            for k, v in enumerate(per_seed(c, s), start=1):
                rows.append(
                    dict(noise=noise, method=m, seed=s, lam=np.nan, layer=k, step=1200, metric="nmse_db", value=v)
                )
    for m, tr in training.items():
        for s in seeds:
            for step, v in per_seed(tr, s).items():
                rows.append(
                    dict(noise=noise, method=m, seed=s, lam=np.nan, layer=16, step=step, metric=uc.CURVE, value=v)
                )
    for (m, lam), c in (classical or {}).items():
        for k, v in c.items():
            rows.append(dict(noise=noise, method=m, seed=-1, lam=lam, layer=k, step=0, metric="nmse_db", value=v))
        rows.append(dict(noise=noise, method=m, seed=-1, lam=lam, layer=16, step=0, metric="val_nmse_db", value=c[16]))
    rows.append(
        dict(noise=noise, method="oracle", seed=-1, lam=np.nan, layer=0, step=0, metric="nmse_db", value=oracle)
    )
    return pd.DataFrame(rows)


def assert_censored(out: dict, rule_status: Status, culprit: str) -> None:
    """Inconclusive because the precondition fails, the rule's own outcome kept and shown."""
    assert out["status"] == "inconclusive" and out["rule_status"] == rule_status.value, out
    assert out["inconclusive_because"].startswith("under-powered at this scale")
    assert culprit in out["inconclusive_because"] and "fails" in out["inconclusive_because"]
    assert "layer-wise" in out["would_test_it"] or "training budget" in out["would_test_it"]
    assert [p["holds"] for p in out["preconditions"]][0] is False  # the network's convergence, listed first


# ---------------------------------------------------------------- the convergence window


def test_window_gain_reads_the_last_tenth_of_training():
    gain, w, end = uc.window_gain(pd.Series(RISING), higher_is_better=False)
    assert (gain, w, end) == (pytest.approx(2.0), 1080.0, 1200.0)
    assert uc.window_gain(pd.Series(FLAT), higher_is_better=False)[0] == pytest.approx(0.2)
    # a PSNR curve improves upwards
    assert uc.window_gain(pd.Series({0: 20.0, 90: 29.0, 100: 29.3}), higher_is_better=True)[0] == pytest.approx(0.3)
    # the window starts at 90% of the curve's own span (a layer-wise last stage from step 5000 to 6000: 5900)
    assert uc.window_gain(pd.Series({5000: -30.0, 5900: -40.0, 6000: -40.1}), higher_is_better=False)[1] == 5900
    # no record at the window's start: measured from the last earlier one, which can only overstate the gain
    gain, w, _ = uc.window_gain(pd.Series({0: -5.0, 500: -20.0, 1200: -21.0}), higher_is_better=False)
    assert (gain, w) == (pytest.approx(1.0), 500.0)
    with pytest.raises(uc.MissingData):
        uc.window_gain(pd.Series({1200: -30.0}), higher_is_better=False)


def test_the_precondition_names_the_worst_seed_and_is_undecided_without_a_curve():
    lista = {s: line(-32.0) for s in SEEDS}
    t = sparse_table({"lista": lista}, training={"lista": {100: FLAT, 101: RISING, 102: FLAT}})
    holds = uc.learned_converged(("lista",))(t, None)
    assert holds.holds is False and "lista +2.00 dB" in holds.measured and "seed 101" in holds.measured
    assert uc.learned_converged(("lista",))(sparse_table({"lista": lista}), None).holds is True
    # no validation curve in the table (an old table): undecided, so inconclusive whatever the rule says
    no_curve = sparse_table({"lista": lista}, training={})
    assert uc.check_u1(no_curve, None).status is R
    out = evaluate("U1", no_curve)
    assert out["status"] == "inconclusive" and out["rule_status"] == "reproduced"
    assert out["preconditions"][0]["holds"] is None and "undecided" in out["inconclusive_because"]
    # a non-finite gain cannot be decided either
    exact = sparse_table({"lista": lista}, training={"lista": {0: -5.0, 1080: -math.inf, 1200: -math.inf}})
    assert uc.learned_converged(("lista",))(exact, None).holds is None


# ---------------------------------------------------------------- U1


def test_u1_three_verdicts_from_the_paired_margin():
    # margins over the better baseline (FISTA, -12 dB): 20, 21, 22 dB
    good = sparse_table({"lista": {s: line(-32.0 - i) for i, s in enumerate(SEEDS)}})
    out = evaluate("U1", good)
    assert out["status"] == "reproduced" and "95% CI +20.0, +22.0 dB" in out["measured"]
    # margins 4, 5, 6 dB: the interval lies below 10 dB
    weak = sparse_table({"lista": {s: line(-16.0 - i) for i, s in enumerate(SEEDS)}})
    assert status("U1", weak) is N
    # margins 5, 12, 15 dB: one seed falls short, the interval straddles 10 dB
    mixed = sparse_table({"lista": {100: line(-17.0), 101: line(-24.0), 102: line(-27.0)}})
    assert uc.check_u1(mixed, None).status is U and status("U1", mixed) is U
    assert status("U1", sparse_table({"lista": line(-32.0)}, classical=None)) is U  # no baselines


def test_u1_one_seed_is_judged_on_that_seed_and_says_so():
    one = sparse_table({"lista": line(-32.0)}, seeds=(100,))
    out = evaluate("U1", one)
    assert out["status"] == "reproduced" and "one training seed" in out["measured"]
    assert status("U1", sparse_table({"lista": line(-16.0)}, seeds=(100,))) is N


def test_u1_unconverged_lista_is_inconclusive_where_the_rule_alone_says_not_reproduced():
    weak = sparse_table(
        {"lista": {s: line(-16.0 - i) for i, s in enumerate(SEEDS)}},
        training={"lista": {100: FLAT, 101: FLAT, 102: RISING}},
    )
    assert_censored(evaluate("U1", weak), N, "lista")


# ---------------------------------------------------------------- U2


def test_u2_three_verdicts_from_the_paired_gap():
    # LISTA at -32..-34 dB; ISTA's best before 160 iterations (any lam) is -25 dB (lam 0.01 at 100): gap +7..+9
    good = sparse_table({"lista": {s: line(-32.0 - i) for i, s in enumerate(SEEDS)}})
    out = evaluate("U2", good)
    assert out["status"] == "reproduced" and "ISTA − LISTA +8.0 dB" in out["measured"]
    assert "ISTA matches at 2000" in out["measured"]  # the iterations are reported alongside
    fast = dict(CLASSICAL) | {("ista", 0.01): ista_like(-5.0, -45.0) | {100: -40.0, 20: -33.0}}
    assert status("U2", sparse_table({"lista": line(-32.0)}, classical=fast)) is N  # matched at 20 < 160
    # one seed's LISTA is reached before 160 iterations (-20 dB), two are not: the interval straddles 0
    mixed = sparse_table({"lista": {100: line(-20.0), 101: line(-32.0), 102: line(-33.0)}})
    assert uc.check_u2(mixed, None).status is U and status("U2", mixed) is U


def test_u2_a_run_too_short_to_show_160_iterations_is_inconclusive_not_a_failure():
    short = {k: {i: v for i, v in c.items() if i <= 100} for k, c in CLASSICAL.items()}  # ISTA run to 100 only
    t = sparse_table({"lista": line(-32.0)}, classical=short)
    v = uc.check_u2(t, None)
    assert v.status is U and "shorter than 160" in v.measured  # rule version 1 said "not reproduced" here
    reached = dict(short) | {("ista", 0.01): {**short[("ista", 0.01)], 50: -33.0}}
    assert uc.check_u2(sparse_table({"lista": line(-32.0)}, classical=reached), None).status is N  # shown anyway


def test_u2_unconverged_lista_is_inconclusive_where_the_rule_alone_says_not_reproduced():
    fast = dict(CLASSICAL) | {("ista", 0.01): ista_like(-5.0, -45.0) | {100: -40.0, 20: -33.0}}
    t = sparse_table({"lista": line(-32.0)}, classical=fast, training={"lista": RISING})
    assert_censored(evaluate("U2", t), N, "lista")


# ---------------------------------------------------------------- U3 (rule version 3)

U3_OK = {"lista": line(-32.0), "lista_cpss": line(-64.0), "alista": line(-67.0)}


def power_law(at16: float) -> list[float]:
    """NMSE ∝ k^-a: a straight line in dB against log k, through `at16` at layer 16 (sublinear convergence)."""
    return [at16 * math.log10(k + 1) / math.log10(17) for k in range(1, 17)]


def test_u3_three_verdicts():
    out = evaluate("U3", sparse_table(U3_OK))
    assert out["status"] == "reproduced" and "|ALISTA − CPSS| 3.0 dB" in out["measured"]
    assert status("U3", sparse_table(U3_OK | {"lista_cpss": power_law(-64.0)})) is N  # steep but sublinear
    assert status("U3", sparse_table(U3_OK | {"alista": line(-78.0)})) is N  # 14 dB from CPSS: not ≈
    assert status("U3", sparse_table(U3_OK | {"lista": line(-90.0)})) is N  # CPSS and ALISTA not below LISTA
    shallow = {"lista": line(-10.0), "lista_cpss": line(-24.0), "alista": line(-25.0)}  # 1.5 dB/layer: too slow
    assert status("U3", sparse_table(shallow)) is N
    assert status("U3", sparse_table({"lista": line(-32.0), "lista_cpss": line(-64.0)})) is U  # no ALISTA


def test_u3_linearity_ratio_separates_linear_from_any_power_law():
    for a in (0.5, 1.0, 3.0):  # whatever the exponent, a power law drops 0.28 of its early drop late
        early, late = uc._drops(pd.Series([-10 * a * math.log10(k) for k in range(1, 17)], index=range(1, 17)))
        assert late / early == pytest.approx(math.log(16 / 9) / math.log(8)) and late / early < uc.U3_LINEAR
    early, late = uc._drops(pd.Series(line(-64.0), index=range(1, 17)))
    assert late == pytest.approx(early)


def test_u3_reads_every_learned_curve_it_uses_for_its_precondition():
    out = evaluate("U3", sparse_table(U3_OK, training={"lista": FLAT, "lista_cpss": FLAT, "alista": RISING}))
    assert_censored(out, R, "alista")  # a pass read from a still-improving ALISTA is no pass either
    bent = [-30 * (1 - math.exp(-k / 3)) for k in range(1, 17)]
    out = evaluate(
        "U3", sparse_table(U3_OK | {"lista_cpss": bent}, training={"lista": FLAT, "lista_cpss": RISING, "alista": FLAT})
    )
    assert_censored(out, N, "lista_cpss")


# ---------------------------------------------------------------- U4 (rule unchanged; precondition added)

FLOOR = [max(-3.2 * k, -37.0) for k in range(1, 17)]  # levels off at -37 dB from layer 12


def test_u4_three_verdicts():
    assert status("U4", sparse_table({m: FLOOR for m in uc.LEARNED}, noise="snr40")) is R
    still_falling = sparse_table({m: [-2.2 * k for k in range(1, 17)] for m in uc.LEARNED}, noise="snr40")
    assert status("U4", still_falling) is N  # gains 8.8 dB over the last 4 layers
    too_high = sparse_table({m: [max(-2.0 * k, -25.0) for k in range(1, 17)] for m in uc.LEARNED}, noise="snr40")
    assert status("U4", too_high) is N
    assert status("U4", sparse_table({"lista": FLOOR})) is U  # no noisy shard


def test_u4_asks_only_cpss_and_alista_to_reach_the_floor():
    level_above = [max(-2.5 * k, -25.0) for k in range(1, 17)]  # levels off at -25 dB, far above the floor
    curves = {"lista": level_above, "lista_cp": level_above, "lista_cpss": FLOOR, "alista": FLOOR}
    assert status("U4", sparse_table(curves, noise="snr40")) is R
    assert status("U4", sparse_table(curves | {"alista": level_above}, noise="snr40")) is N


def test_u4_unconverged_training_is_inconclusive_where_the_rule_alone_says_not_reproduced():
    too_high = {m: [max(-2.0 * k, -25.0) for k in range(1, 17)] for m in uc.LEARNED}
    t = sparse_table(too_high, noise="snr40", training={m: (RISING if m == "lista_cp" else FLAT) for m in uc.LEARNED})
    out = evaluate("U4", t)
    assert_censored(out, N, "lista_cp")
    assert "snr40" in out["inconclusive_because"]


# ---------------------------------------------------------------- U5


def tomo_table(
    unrolled: dict[int, float], tv=28.0, fbp=20.0, val: dict | None = None, tv_gain: float = 0.1
) -> pd.DataFrame:
    """Mean PSNR on the held-out ellipses per seed (Shepp–Logan as context); val[seed] = the validation PSNR curve
    {step: dB} (default: converged over its last half); tv_gain = TV's gain over its last 10% of iterations."""
    rows = [dict(method="tv", seed=s, image="ellipses", step=0, metric="tv_gain", value=tv_gain) for s in unrolled]
    for s, v in unrolled.items():
        for image, shift in (("ellipses", 0.0), ("shepp_logan", -3.0)):
            for m, p in (("fbp", fbp), ("tv", tv)):
                rows.append(dict(method=m, seed=s, image=image, step=0, metric="psnr", value=p + shift))
            rows.append(dict(method="unrolled", seed=s, image=image, step=10, metric="psnr", value=20.0))
            rows.append(dict(method="unrolled", seed=s, image=image, step=400, metric="psnr", value=v + shift))
        curve = (val or {}).get(s, {0: 22.0, 100: 30.0, 200: 30.9, 360: 31.0, 400: 31.1})
        rows += [
            dict(method="unrolled", seed=s, image="ellipses", step=k, metric="val_psnr", value=p)
            for k, p in curve.items()
        ]
    return pd.DataFrame(rows)


def test_u5_three_verdicts_from_the_paired_margin_on_the_held_out_ellipses():
    out = evaluate("U5", tomo_table({100: 34.5, 101: 34.2, 102: 35.0}))  # margins 6.5, 6.2, 7.0 dB over TV
    assert out["status"] == "reproduced" and "95% CI +6.20, +7.00 dB" in out["measured"]
    assert "Shepp–Logan" in out["measured"]  # context
    assert status("U5", tomo_table({100: 31.0, 101: 30.0, 102: 31.5})) is N
    assert status("U5", tomo_table({100: 33.0, 101: 35.0, 102: 36.0})) is U  # margins 5, 7, 8: straddles 6
    no_tv = tomo_table({100: 34.5}).query("method != 'tv'")
    assert status("U5", no_tv) is U


def test_u5_unconverged_network_is_inconclusive_where_the_rule_alone_says_not_reproduced():
    rising = {0: 22.0, 200: 27.0, 360: 29.0, 400: 30.0}  # +3 dB of validation PSNR over the last half
    out = evaluate("U5", tomo_table({100: 31.0, 101: 30.0, 102: 31.5}, val={101: rising}))
    assert_censored(out, N, "unrolled")
    assert "seed 101" in out["inconclusive_because"] and "training budget" in out["would_test_it"]
    # a cosine-annealed run ends flat: +0.1 dB over the last 10% but +1.5 dB over the last half is still improving
    annealed = {0: 22.0, 200: 28.0, 300: 29.3, 360: 29.4, 400: 29.5}
    assert_censored(evaluate("U5", tomo_table({100: 31.0, 101: 30.0, 102: 31.5}, val={101: annealed})), N, "unrolled")


def test_u5_a_tv_baseline_cut_short_is_inconclusive_where_the_rule_alone_says_reproduced():
    out = evaluate("U5", tomo_table({100: 34.5, 101: 34.2, 102: 35.0}, tv_gain=1.2))
    assert out["status"] == "inconclusive" and out["rule_status"] == "reproduced"
    assert "TV gained +1.20 dB" in out["inconclusive_because"] and "tv_iterations" in out["would_test_it"]


# ---------------------------------------------------------------- the revision log


def test_every_claim_is_revised_twice_with_its_old_rules_and_verdicts():
    for c in uc.CLAIMS:
        v2, v3 = c.history
        assert c.version == 3 and v2.date == v3.date == "2026-12-04"
        assert v2.old_rule == uc.OLD_RULE[c.id] and v3.old_rule == uc.RULE_V2[c.id]
        for rev in (v2, v3):
            assert rev.old_verdict.split(":")[0] in {s.value for s in Status}
        assert "issue 11" in v2.reason and "first_seed 100" in v2.reason
        assert "issue 13" in v3.reason and "first_seed 200" in v3.reason
        assert ("VITA-Group/ALISTA" in v3.reason) == (c.id != "U5")  # the sparse protocol: the authors' code
        assert c.preconditions and all(p.text and p.remedy for p in c.preconditions)
    changed = {c.id for c in uc.CLAIMS if c.rule != c.history[-1].old_rule}
    assert changed == {"U3", "U4", "U5"}  # U1 and U2: the protocol changed, not the rule
