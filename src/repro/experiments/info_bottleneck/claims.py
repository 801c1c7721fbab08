"""The information-bottleneck claims. Each check maps the aggregated table to a verdict.

Per seed and hidden layer, the series I(X;T)(epoch) and I(T;Y)(epoch) of one estimator are read from
the table. A layer pinned at the ceiling log2(n) throughout (n inputs: 4096 for the 12-bit network, the
test images for the MNIST network) is uninformative and skipped. IB1-IB4 read the 12-bit network (shard
`ib`); IB5 reads Saxe et al.'s MNIST network (shard `mnist`, paper scale).
"Compression" in a layer is the drop from the peak of I(X;T) to its last value. Thresholds were fixed
when the checks were written, before any result was seen.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from repro.claims import Claim, MissingData, Status, Verdict, majority_status, require, vote

MIN_SEEDS = 5
MIN_FRACTION = 0.8
DROP_BITS = 0.5  # compression: a drop of at least 0.5 bits
ITY_KEPT = 0.95  # ... while I(T;Y) stays at or above 95% of its maximum
ITY_BEFORE = 0.9  # compression begins after I(T;Y) reached 90% of its final value
RHO_MAX = -0.7  # IB3: Spearman(saturation, I(X;T)) over the compression phase
DEEPEST = 2  # the deepest two informative hidden layers
CEILING = 12.0  # log2(4096)
PINNED_TOL = 0.01
MNIST_SHARD = "mnist"


def network_rows(table: pd.DataFrame, mnist: bool) -> pd.DataFrame:
    """The rows of the 12-bit network (mnist=False) or of the MNIST network (the `mnist` shard's rows)."""
    if "shard" not in table.columns:
        if mnist:
            raise MissingData(f"shard={MNIST_SHARD} (Saxe et al.'s MNIST network runs at paper scale only)")
        return table
    rows = table[(table["shard"] == MNIST_SHARD) == mnist]
    if mnist and rows.empty:
        raise MissingData(f"shard={MNIST_SHARD} (Saxe et al.'s MNIST network runs at paper scale only)")
    return rows


def series(table: pd.DataFrame, activation: str, estimator: str, mnist: bool = False) -> dict:
    """{(seed, layer): DataFrame indexed by step with columns ixt, ity} for one activation and estimator."""
    rows = require(network_rows(table, mnist), activation=activation, estimator=estimator)
    out = {}
    for (seed, layer), g in rows.groupby(["seed", "layer"]):
        w = g.pivot(index="step", columns="metric", values="value").sort_index()
        if {"ixt", "ity"} <= set(w.columns):
            out[(int(seed), int(layer))] = w[["ixt", "ity"]]
    if not out:
        raise MissingData(f"{activation} {estimator}")
    return out


def deepest_informative(per_seed: dict[int, pd.DataFrame], ceiling: float = CEILING) -> list[int]:
    """The deepest DEEPEST hidden layers whose I(X;T) is not pinned at the ceiling throughout."""
    informative = [lay for lay, w in sorted(per_seed.items()) if (ceiling - w["ixt"]).max() > PINNED_TOL]
    return informative[-DEEPEST:]


def compression(w: pd.DataFrame) -> tuple[float, int]:
    """(drop from the I(X;T) peak to the end, the index of the peak)."""
    ixt = w["ixt"].to_numpy()
    peak = int(np.argmax(ixt))
    return float(ixt[peak] - ixt[-1]), peak


def fits_then_compresses(w: pd.DataFrame) -> bool:
    drop, peak = compression(w)
    ixt, ity = w["ixt"].to_numpy(), w["ity"].to_numpy()
    if drop < DROP_BITS or ixt[peak] <= ixt[0]:
        return False
    kept = ity[peak:].min() >= ITY_KEPT * ity.max()
    reached = np.flatnonzero(ity >= ITY_BEFORE * ity[-1])
    return bool(kept and reached.size and reached[0] <= peak)


def _by_seed(s: dict) -> dict[int, dict[int, pd.DataFrame]]:
    out: dict[int, dict[int, pd.DataFrame]] = {}
    for (seed, layer), w in s.items():
        out.setdefault(seed, {})[layer] = w
    return out


def ib1(table: pd.DataFrame, estimator: str) -> Verdict:
    outcomes, drops = [], []
    for _seed, layers in sorted(_by_seed(series(table, "tanh", estimator)).items()):
        chosen = deepest_informative(layers)
        if not chosen:
            outcomes.append(None)
            continue
        drops += [compression(layers[lay])[0] for lay in chosen]
        outcomes.append(all(fits_then_compresses(layers[lay]) for lay in chosen))
    v = vote(outcomes)
    return Verdict(majority_status(v, min_seeds=MIN_SEEDS, min_fraction=MIN_FRACTION),
                   f"tanh, {estimator}: fitting then compression ≥ {DROP_BITS} bits in {v.fmt()}; drops in the "
                   f"deepest informative layers: median {np.median(drops) if drops else float('nan'):.2f} bits",
                   "In the information plane the deepest layers move right (fitting) then left (compression) "
                   "while staying high on I(T;Y).")


def no_compression(table: pd.DataFrame, estimators: tuple[str, ...]) -> Verdict:
    outcomes, worst = [], []
    for est in estimators:
        for seed, layers in sorted(_by_seed(series(table, "relu", est)).items()):
            chosen = deepest_informative(layers)
            d = max((compression(layers[lay])[0] for lay in chosen), default=float("nan"))
            worst.append(d)
            outcomes.append((seed, est, None if not chosen else d < DROP_BITS))
    per_seed = {}
    for seed, _est, ok in outcomes:  # a seed holds only if it holds under every estimator
        per_seed[seed] = per_seed.get(seed, True) if ok is None else (per_seed.get(seed, True) and ok)
    v = vote(per_seed.values())
    return Verdict(majority_status(v, min_seeds=MIN_SEEDS, min_fraction=MIN_FRACTION),
                   f"ReLU, {' and '.join(estimators)}: no drop ≥ {DROP_BITS} bits in {v.fmt()}; largest drop per "
                   f"seed and estimator: median {np.nanmedian(worst):.2f} bits",
                   "The ReLU layers' I(X;T) never falls back by half a bit or more.")


def check_ib1(table, cfg, bins: int = 30) -> Verdict:
    return ib1(table, f"bin{bins}")


def check_ib2(table, cfg, bins: int = 30) -> Verdict:
    return no_compression(table, (f"adaptive{bins}", "kde"))


def check_ib3(table: pd.DataFrame, cfg) -> Verdict:
    mi = _by_seed(series(table, "tanh", "bin30"))
    sat = require(network_rows(table, mnist=False), activation="tanh", metric="saturation")
    rhos = []
    for seed, layers in mi.items():
        for lay in deepest_informative(layers):
            w = layers[lay]
            drop, peak = compression(w)
            if drop < DROP_BITS:
                continue
            s = sat[(sat["seed"] == seed) & (sat["layer"] == lay)].set_index("step")["value"]
            phase = w.index[peak:]
            if len(phase) < 3:
                continue
            rho = spearmanr(s.reindex(phase).to_numpy(), w["ixt"].to_numpy()[peak:]).statistic
            rhos.append(float(rho))
    if len(rhos) < MIN_SEEDS:
        return Verdict(Status.INCONCLUSIVE, f"{len(rhos)} compressing (seed, layer) cases",
                       f"Fewer than {MIN_SEEDS} tanh layers compressed by ≥ {DROP_BITS} bits, so there is too "
                       "little compression to correlate with saturation.")
    v = vote(r <= RHO_MAX for r in rhos)
    return Verdict(majority_status(v, min_seeds=MIN_SEEDS, min_fraction=MIN_FRACTION),
                   f"Spearman ρ(saturated fraction, I(X;T)) over the compression phase: median {np.median(rhos):.2f}; "
                   f"≤ {RHO_MAX} in {v.holds}/{v.n} compressing (seed, layer) cases",
                   "As the tanh units saturate (|h| > 0.9), the binned I(X;T) falls.")


def check_ib4(table: pd.DataFrame, cfg) -> Verdict:
    fixed = ib_relu_compresses(table, "bin30")
    adaptive = no_compression(table, ("adaptive30",))
    ok = fixed.status is Status.REPRODUCED and adaptive.status is Status.REPRODUCED
    bad = fixed.status is Status.NOT_REPRODUCED or adaptive.status is Status.NOT_REPRODUCED
    return Verdict(Status.REPRODUCED if ok else (Status.NOT_REPRODUCED if bad else Status.INCONCLUSIVE),
                   f"fixed [-1, 1] bins: {fixed.measured}; adaptive bins: {adaptive.measured}",
                   "An estimator artefact: ReLU appears to compress with the original bins (activations above 1 "
                   "share the top bin) and not with bins over the observed range.")


def ib_relu_compresses(table: pd.DataFrame, estimator: str) -> Verdict:
    outcomes, drops = [], []
    for _seed, layers in sorted(_by_seed(series(table, "relu", estimator)).items()):
        chosen = deepest_informative(layers)
        d = [compression(layers[lay])[0] for lay in chosen]
        drops += d
        outcomes.append(None if not d else max(d) >= DROP_BITS)
    v = vote(outcomes)
    return Verdict(majority_status(v, min_seeds=MIN_SEEDS, min_fraction=MIN_FRACTION),
                   f"ReLU drop ≥ {DROP_BITS} bits in {v.fmt()} "
                   f"(median {np.median(drops) if drops else float('nan'):.2f})",
                   "")


def check_ib5(table: pd.DataFrame, cfg) -> Verdict:
    n_test = cfg.experiment.mnist.n_test if cfg is not None else 10_000
    ceiling = math.log2(n_test)
    parts = []
    for act, wanted in (("tanh", True), ("relu", False)):
        outcomes, drops = [], []
        for _seed, layers in sorted(_by_seed(series(table, act, "kde", mnist=True)).items()):
            chosen = deepest_informative(layers, ceiling)
            d = [compression(layers[lay])[0] for lay in chosen]
            drops += d
            outcomes.append(None if not d else (min(d) >= DROP_BITS) if wanted else (max(d) < DROP_BITS))
        v = vote(outcomes)
        parts.append((act, majority_status(v, min_seeds=MIN_SEEDS, min_fraction=MIN_FRACTION), v, drops))
    statuses = [p[1] for p in parts]
    status = (Status.REPRODUCED if all(s is Status.REPRODUCED for s in statuses) else
              Status.NOT_REPRODUCED if Status.NOT_REPRODUCED in statuses else Status.INCONCLUSIVE)
    measured = "; ".join(f"{act}: {'compresses' if act == 'tanh' else 'no compression'} in {v.fmt()} (median drop "
                         f"{np.median(d) if d else float('nan'):.2f} bits)" for act, _, v, d in parts)
    return Verdict(status, measured, "On MNIST (KDE on the test images), the tanh network's deepest layers lose "
                                     "information about the input late in training and the ReLU network's do not.")


def _bins(check, bins: int):
    return lambda table, cfg: check(table, cfg, bins)


SOURCES = {"ST": "Shwartz-Ziv & Tishby 2017 (arXiv 1703.00810), Figs. 2–3",
           "SAXE": "Saxe et al. 2018 (ICLR), Figs. 1–2"}
IB1_TEXT = ("With tanh, the deepest informative hidden layers first gain information about the input (fitting) and "
            "then lose it (compression) while keeping what they know about the label.")
IB1_RULE = (f"Per seed, the {DEEPEST} deepest hidden layers not pinned at 12 bits: I(X;T) rises and then drops by "
            f"≥ {DROP_BITS} bits from its peak to the end, I(T;Y) stays ≥ {ITY_KEPT:.0%} of its maximum from the peak "
            f"on, and I(T;Y) reached {ITY_BEFORE:.0%} of its final value by the peak; in ≥ {MIN_FRACTION:.0%} of ≥ "
            f"{MIN_SEEDS} seeds.")
IB2_TEXT = "With ReLU there is no compression phase under estimators that resolve large activations."
IB2_RULE = (f"Per seed, in the {DEEPEST} deepest informative layers, I(X;T) never drops by ≥ {DROP_BITS} bits from its "
            f"peak, under adaptive binning and under KDE; in ≥ {MIN_FRACTION:.0%} of ≥ {MIN_SEEDS} seeds.")

CLAIMS = [
    Claim("IB1", IB1_TEXT, SOURCES["ST"] + "; binning 30 bins over [-1, 1]", check_ib1,
          paper_value="fitting then compression", rule=IB1_RULE),
    Claim("IB2", IB2_TEXT, SOURCES["SAXE"] + "; 30 adaptive bins and KDE", check_ib2,
          paper_value="no compression (ReLU)", rule=IB2_RULE),
    Claim("IB3", "Compression in tanh networks tracks the saturation of their units.", SOURCES["SAXE"], check_ib3,
          paper_value="compression from saturation",
          rule=f"Over each compression phase (peak to end, layers that dropped ≥ {DROP_BITS} bits), the Spearman "
               f"correlation of the saturated fraction (|h| > 0.9) with I(X;T) is ≤ {RHO_MAX}, in ≥ "
               f"{MIN_FRACTION:.0%} of ≥ {MIN_SEEDS} such cases."),
    Claim("IB4", "The compression seen with the original fixed [-1, 1] bins in ReLU networks is an estimator artefact.",
          SOURCES["SAXE"] + " (estimator dependence)", check_ib4, paper_value="finding about the estimator",
          rule=f"ReLU drops ≥ {DROP_BITS} bits under 30 bins over [-1, 1] in ≥ {MIN_FRACTION:.0%} of seeds, and "
               "does not under 30 adaptive bins (the IB2 rule)."),
    Claim("IB5", "On MNIST too, the tanh network compresses and the ReLU network does not (784-1024-20-20-20-10, "
                 "KDE on the test images).", "Saxe et al. 2018 (ICLR), Fig. 1C–D", check_ib5,
          paper_value="tanh compresses, ReLU does not",
          rule=f"KDE (noise variance 0.1) on the test images; per seed, the {DEEPEST} deepest hidden layers not pinned "
               f"at log2(n_test) bits: with tanh each drops ≥ {DROP_BITS} bits of I(X;T) from its peak to the end, "
               f"with ReLU none does; each in ≥ {MIN_FRACTION:.0%} of ≥ {MIN_SEEDS} seeds."),
    Claim("IB1-bins10", IB1_TEXT + " (10 bins)", SOURCES["ST"], _bins(check_ib1, 10),
          paper_value="robustness", rule=IB1_RULE.replace("seeds.", "seeds; 10 bins over [-1, 1].")),
    Claim("IB1-bins100", IB1_TEXT + " (100 bins)", SOURCES["ST"], _bins(check_ib1, 100),
          paper_value="robustness", rule=IB1_RULE.replace("seeds.", "seeds; 100 bins over [-1, 1].")),
    Claim("IB2-bins10", IB2_TEXT + " (10 bins)", SOURCES["SAXE"], _bins(check_ib2, 10),
          paper_value="robustness", rule=IB2_RULE.replace("seeds.", "seeds; 10 adaptive bins and KDE.")),
    Claim("IB2-bins100", IB2_TEXT + " (100 bins)", SOURCES["SAXE"], _bins(check_ib2, 100),
          paper_value="robustness", rule=IB2_RULE.replace("seeds.", "seeds; 100 adaptive bins and KDE.")),
]
