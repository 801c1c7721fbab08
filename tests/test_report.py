"""repro.report: one self-contained HTML page from aggregated smoke results."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from repro.aggregate import aggregate
from repro.experiments import f_principle
from repro.report import __main__ as report_cli
from repro.report.html import ReportError, build, inline_svg

EXP, SCALE = "f_principle", "smoke"


@pytest.fixture
def work(smoke_copy) -> Path:
    aggregate(SCALE, EXP)
    return smoke_copy


class _Collect(HTMLParser):
    """Every tag with its attributes, to check resource references and nesting."""

    def __init__(self):
        super().__init__()
        self.attrs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]


def _render(work: Path) -> str:
    out = work / "reports" / SCALE / "index.html"
    assert report_cli.main(["--scale", SCALE, "--experiments", EXP, "--out", str(out)]) == 0
    return out.read_text()


def test_report_is_self_contained_and_complete(work):
    html = _render(work)
    claims = json.loads((work / "results" / SCALE / EXP / "claims.json").read_text())
    captions = json.loads((work / "results" / SCALE / EXP / "figures" / "captions.json").read_text())

    # every claim appears in the overview and in its card, each time with a badge of its status
    for claim in f_principle.CLAIMS:
        status = next(c["status"] for c in claims if c["id"] == claim.id)
        row = re.search(
            rf'<tr>\s*<td><span class="badge (\w+)">([^<]+)</span></td>\s*<td class="key">'
            rf'<a href="#claim-{EXP}-{re.escape(claim.id)}"><b>{re.escape(claim.id)}</b>',
            html,
        )
        assert row, claim.id
        assert row.group(2) == status and row.group(1) == {"reproduced": "ok", "not reproduced": "fail"}.get(
            status, "unsure"
        )
        card = re.search(
            rf'id="claim-{EXP}-{re.escape(claim.id)}">\s*<h4><span class="badge \w+">{status}</span>'
            rf" {re.escape(claim.id)}(?: <span class=\"badge rev\">[^<]*</span>)?</h4>",
            html,
        )
        assert card, claim.id
    for needle in (
        "How to read this report",
        "Decision rule",
        "Differs from the paper, and why",
        "Runtime",
        "Provenance",
        "no reason stated",
        "smoke test only",
        "torch",
    ):
        assert needle in html, needle

    # the figures are inline SVG, one per caption, with their captions
    assert html.count("<svg") == len(captions["order"]) >= 3
    for name in captions["order"]:
        assert f'id="fig-{EXP}-{name}"' in html
    assert "<img" not in html and "<?xml" not in html

    # nothing is fetched from the network: no http(s) or protocol-relative src/href, no @import/url(http)
    parser = _Collect()
    parser.feed(html)
    refs = [(t, k, v) for t, k, v in parser.attrs if k in ("src", "href", "xlink:href", "data", "action")]
    assert refs, "expected internal links"
    bad = [r for r in refs if re.match(r"\s*(https?:|//|ftp:)", r[2], re.IGNORECASE)]
    assert bad == []
    assert not re.search(r"https?://", html)  # not even namespace URLs: inline SVG needs none
    assert "<script" not in html and "<link" not in html
    assert all(v.startswith(("#", "data:")) for t, k, v in refs)  # in-page anchors and embedded images only

    # ids are unique on the page (the SVGs' ids are prefixed per figure)
    ids = [v for _, k, v in parser.attrs if k == "id"]
    assert len(ids) == len(set(ids))


def test_report_is_deterministic(work):
    first = _render(work)
    second = _render(work)
    assert first == second


def test_verdict_badges_by_status(work):
    path = work / "results" / SCALE / EXP / "claims.json"
    claims = json.loads(path.read_text())
    claims[0]["status"], claims[1]["status"] = "reproduced", "not reproduced"
    path.write_text(json.dumps(claims))
    html = _render(work)
    assert '<span class="badge ok">1 reproduced</span>' in html
    assert '<span class="badge fail">1 not reproduced</span>' in html
    assert f'<span class="badge unsure">{len(claims) - 2} inconclusive</span>' in html
    assert f'<div class="claim ok" id="claim-{EXP}-{claims[0]["id"]}">' in html
    assert f'<div class="claim fail" id="claim-{EXP}-{claims[1]["id"]}">' in html


def test_missing_results_dir_gives_clear_error_and_no_output(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "reports" / SCALE / "index.html"
    rc = report_cli.main(["--scale", SCALE, "--experiments", EXP, "--out", str(out), "--results", "nowhere"])
    assert rc != 0
    err = capsys.readouterr().err
    assert err.startswith("error:") and "nowhere" in err and "Traceback" not in err
    assert not out.exists()
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").rglob("*.*"))


def test_missing_experiment_results_leave_no_partial_page(work, capsys):
    out = work / "reports" / SCALE / "index.html"
    (work / "results" / SCALE / EXP / "claims.json").unlink()
    rc = report_cli.main(["--scale", SCALE, "--experiments", EXP, "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "claims.json" in err and "repro.aggregate" in err
    assert not out.exists()
    assert not list(work.rglob("*.tmp")) and not list(work.rglob(".*.tmp*"))  # no temporary file left anywhere


def test_existing_page_survives_a_failed_build(work):
    out = work / "reports" / SCALE / "index.html"
    good = _render(work)
    with pytest.raises(ReportError, match="does not exist"):
        build(SCALE, [EXP, "f_principle_missing"], out)  # second experiment has no results
    assert out.read_text() == good


def test_bad_status_is_rejected(work):
    path = work / "results" / SCALE / EXP / "claims.json"
    claims = json.loads(path.read_text())
    claims[0]["status"] = "sort of"
    path.write_text(json.dumps(claims))
    with pytest.raises(ReportError, match="sort of"):
        build(SCALE, [EXP], work / "index.html")


def test_inline_svg_strips_prolog_and_prefixes_ids():
    svg = (
        '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        '<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="360pt" height="180pt" viewBox="0 0 360 180" '
        'xmlns="http://www.w3.org/2000/svg" version="1.1">\n <metadata><rdf:RDF>http://x</rdf:RDF></metadata>\n'
        ' <defs><path id="m1" d="M0 0"/><clipPath id="p2"><rect/></clipPath></defs>\n'
        ' <use xlink:href="#m1" clip-path="url(#p2)"/>\n</svg>\n'
    )
    out = str(inline_svg(svg, prefix="e-f0-"))
    assert out.startswith("<svg") and "http" not in out and "metadata" not in out
    assert 'id="e-f0-m1"' in out and 'xlink:href="#e-f0-m1"' in out and "url(#e-f0-p2)" in out
    assert 'style="width:100%;max-width:480px;height:auto"' in out and 'viewBox="0 0 360 180"' in out


def test_run_health_lists_resumed_jobs_and_missing_seeds(smoke_copy):
    """A shard that resumed (provenance) and a shard that lacks one of its seeds show up in 'Run health'."""
    import pandas as pd

    base = smoke_copy / "results" / SCALE / EXP
    prov = json.loads((base / "fp1" / "provenance.json").read_text())
    (base / "fp1" / "provenance.json").write_text(json.dumps(prov | {"resumed_from": [0, 123]}))
    t = pd.read_csv(base / "fp2" / "table.csv")
    t[t["seed"] != 301].to_csv(base / "fp2" / "table.csv", index=False)
    aggregate(SCALE, EXP)
    health = {h["shard"]: h for h in json.loads((base / "summary.json").read_text())["health"]}
    assert health["fp1"]["resumed_from"] == [0, 123] and health["fp1"]["missing_seeds"] == []
    assert health["fp2"]["missing_seeds"] == [301] and health["fp2"]["resumed_from"] is None
    assert health["fp3"] == {"shard": "fp3", "resumed_from": None, "seeds": [300, 301], "missing_seeds": []}
    html = _render(smoke_copy)
    section = html[html.index("<h3>Run health</h3>") : html.index("<h3>Runtime</h3>")]
    assert "1 of 3 job(s) resumed from a checkpoint; 1 with missing seeds" in section
    assert re.search(r"fp1</td>\s*<td><span class=\"badge warn\">0, 123</span>", section)
    assert re.search(r"fp2</td>.*?<span class=\"badge warn\">301</span>", section, re.S)


def test_preconditions_paired_intervals_and_revisions_are_shown(work):
    """A claim made inconclusive by a failed precondition shows why, what would test it and what the rule alone
    said; a revised claim is marked in the overview and its revision is listed with the old rule, the old verdict
    and the reason."""
    from repro.claims import Claim, Holds, Precondition, Revision, Status, Verdict

    claim = Claim(
        "FP9",
        "Low frequencies first.",
        "Xu et al. 2019",
        lambda t, c: Verdict(
            Status.NOT_REPRODUCED, "+0.012 [95% CI -0.004, +0.020; median of 5 paired seed differences]", "see fig"
        ),
        rule="the new rule",
        preconditions=(
            Precondition(
                "training converged",
                lambda t, c: Holds(False, "loss still falling 8% over the last 10%"),
                "run the paper scale (20 000 steps)",
            ),
        ),
        history=(
            Revision(
                "2026-12-04",
                "the old rule",
                "not reproduced: 2 of 5 seeds",
                "the paper's Fig. 3 reads the first crossing",
            ),
        ),
    )
    path = work / "results" / SCALE / EXP / "claims.json"
    claims = json.loads(path.read_text())
    claims.append({**claim.evaluate(None, None), "experiment": EXP, "scale": SCALE})
    path.write_text(json.dumps(claims))
    html = _render(work)
    card = html[html.index('id="claim-f_principle-FP9"') :]
    card = card[: card.index("</dl>")]
    assert '<span class="badge unsure">inconclusive</span> FP9 <span class="badge rev">revised: rule version 2' in card
    assert (
        "Inconclusive because</dt><dd>under-powered at this scale: training converged: fails (loss still "
        "falling 8% over the last 10%)" in card
    )
    assert 'The rule alone reads <span class="badge fail">not reproduced</span>' in card
    assert "What would test it</dt><dd>run the paper scale (20 000 steps)" in card
    assert '<span class="badge fail">fails</span> training converged' in card
    assert "95% CI -0.004, +0.020" in card
    overview = html[html.index('id="claims"') : html.index('id="exp-f_principle"')]
    row = overview[overview.index('href="#claim-f_principle-FP9"') :]
    assert row.index('class="badge rev"') < row.index("</tr>")
    revisions = html[html.index('id="revisions-f_principle"') :]
    revisions = revisions[: revisions.index("</table>")]
    for text in (
        "2026-12-04",
        "the old rule",
        "not reproduced: 2 of 5 seeds",
        "the paper&#39;s Fig. 3 reads the first crossing",
        "v1 → v2",
    ):
        assert text in revisions, text
