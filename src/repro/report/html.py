"""Render the aggregated results of one scale into one self-contained HTML page.

Inputs, per experiment, from `results/<scale>/<experiment>/` (written by `repro.aggregate`):
`claims.json`, `summary.json`, `figures/captions.json` and `figures/<name>.svg`. The SVGs are inlined
(no external files, no network); the page depends only on these inputs, so it is byte-identical
for identical results.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from repro.io import write_text
from repro.paths import CAPTIONS_JSON, CLAIMS_JSON, FIGURES_DIR, RESULTS, SUMMARY_JSON, experiment_dir

TEMPLATE = "template.html.j2"
STATUSES = ("reproduced", "not reproduced", "inconclusive")


class ReportError(RuntimeError):
    """Missing or unreadable inputs for the report; the message names the file and how to make it."""


@dataclass
class ExperimentResults:
    name: str
    claims: list[dict]
    summary: dict
    figures: list[dict] = field(default_factory=list)  # {name, caption, svg (Markup)}


# ---------------------------------------------------------------- loading


def _read_json(path: Path, what: str):
    if not path.is_file():
        raise ReportError(f"missing {what}: {path} (run: python -m repro.aggregate --scale … --experiment …)")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ReportError(f"cannot read {what} {path}: {e}") from None


def load_experiment(scale: str, experiment: str, root: str | Path = RESULTS) -> ExperimentResults:
    d = experiment_dir(scale, experiment, root)
    if not d.is_dir():
        raise ReportError(
            f"no aggregated results for {experiment} at scale {scale}: {d} does not exist "
            f"(run: python -m repro.aggregate --scale {scale} --experiment {experiment})"
        )
    claims = _read_json(d / CLAIMS_JSON, "claims")
    summary = _read_json(d / SUMMARY_JSON, "summary")
    if not isinstance(claims, list) or not all(isinstance(c, dict) and "id" in c for c in claims):
        raise ReportError(f"{d / CLAIMS_JSON} is not a list of claims with ids")
    for c in claims:
        if c.get("status") not in STATUSES:
            raise ReportError(
                f"{d / CLAIMS_JSON}: claim {c.get('id')} has status {c.get('status')!r}; valid: {', '.join(STATUSES)}"
            )
        # claims.json written before claims had preconditions and revision logs
        c.setdefault("preconditions", [])
        c.setdefault("history", [])
        c.setdefault("version", len(c["history"]) + 1)
        c.setdefault("rule_status", c["status"])
    caps = _read_json(d / FIGURES_DIR / CAPTIONS_JSON, "figure captions")
    figures = []
    for i, name in enumerate(caps.get("order", [])):
        svg_path = d / FIGURES_DIR / f"{name}.svg"
        if not svg_path.is_file():
            raise ReportError(f"missing figure {svg_path} (listed in {CAPTIONS_JSON})")
        figures.append(
            {
                "name": name,
                "caption": caps["captions"].get(name, ""),
                "svg": inline_svg(svg_path.read_text(), prefix=f"{experiment}-f{i}-"),
            }
        )
    return ExperimentResults(experiment, claims, summary, figures)


# ---------------------------------------------------------------- SVG inlining

_DROP = [
    re.compile(p, re.DOTALL) for p in (r"<\?xml.*?\?>", r"<!DOCTYPE.*?>", r"<!--.*?-->", r"<metadata>.*?</metadata>")
]
_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_ID = re.compile(r'\bid="([^"]+)"')
_SIZE = re.compile(r'<svg([^>]*?)\swidth="([\d.]+)pt"\s+height="([\d.]+)pt"')


def inline_svg(text: str, prefix: str) -> Markup:
    """An SVG file as an inline <svg> element: no XML prolog, metadata or namespace URLs (HTML knows
    SVG), ids prefixed so that several figures on one page cannot collide, and a fluid width."""
    for p in _DROP:
        text = p.sub("", text)
    text = _XMLNS.sub("", text)
    ids = set(_ID.findall(text))
    if ids:
        alt = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
        text = re.sub(rf'\bid="({alt})"', lambda m: f'id="{prefix}{m.group(1)}"', text)
        text = re.sub(rf'href="#({alt})"', lambda m: f'href="#{prefix}{m.group(1)}"', text)
        text = re.sub(rf"url\(#({alt})\)", lambda m: f"url(#{prefix}{m.group(1)})", text)
    text = _SIZE.sub(
        lambda m: (
            f'<svg{m.group(1)} style="width:100%;max-width:{float(m.group(2)) * 4 / 3:.0f}px;height:auto" role="img"'
        ),
        text,
        count=1,
    )
    return Markup(text.strip())


# ---------------------------------------------------------------- formatting


def fmt(value) -> str:
    """Config values and numbers for tables: compact, stable."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def badge_class(status: str) -> str:
    return {"reproduced": "ok", "not reproduced": "fail"}.get(status, "unsure")


def _same_for_all(dicts: list[dict]) -> bool:
    return all(d == dicts[0] for d in dicts[1:])


def _context(scale: str, results: list[ExperimentResults]) -> dict:
    all_claims = [dict(c, experiment=r.name) for r in results for c in r.claims]
    counts = {s: sum(c["status"] == s for c in all_claims) for s in STATUSES}
    experiments = []
    for r in results:
        prov = r.summary.get("provenance", {}) or {}
        shards = list(prov)
        packages = [prov[s].get("packages", {}) for s in shards]
        pkg_names = sorted({k for p in packages for k in p})
        experiments.append(
            {
                "name": r.name,
                "doc": r.summary.get("doc", ""),
                "seeds": r.summary.get("seeds", []),
                "claims": r.claims,
                "figures": r.figures,
                "protocol": r.summary.get("protocol", []),
                "deviations": r.summary.get("deviations", []),
                "runtime": r.summary.get("runtime", []),
                "health": r.summary.get("health", []),
                "provenance": [dict(prov[s], shard=s) for s in shards],
                "packages_shared": _same_for_all(packages) if packages else True,
                "package_names": pkg_names,
                "packages": dict(zip(shards, packages)),
                "shards": shards,
            }
        )
    return {"scale": scale, "claims": all_claims, "counts": counts, "experiments": experiments, "statuses": STATUSES}


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(Path(__file__).parent)),
        autoescape=select_autoescape(["j2", "html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = fmt
    env.filters["badge"] = badge_class
    env.filters["slug"] = lambda s: re.sub(r"[^A-Za-z0-9_-]+", "-", str(s))
    return env


def render(scale: str, results: list[ExperimentResults]) -> str:
    return environment().get_template(TEMPLATE).render(**_context(scale, results))


def build(scale: str, experiments: list[str], out: str | Path, root: str | Path = RESULTS) -> Path:
    """Load everything first, render, then write atomically: a failure leaves no (partial) page."""
    if not experiments:
        raise ReportError("no experiments given")
    if len(set(experiments)) != len(experiments):
        raise ReportError(f"experiment listed twice: {' '.join(experiments)}")
    if not Path(root).is_dir():
        raise ReportError(f"results dir {root} does not exist (run the workflow first)")
    results = [load_experiment(scale, e, root) for e in experiments]
    html = render(scale, results)
    write_text(out, html)
    return Path(out)
