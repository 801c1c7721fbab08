"""Integration test: the real Snakemake DAG at smoke scale, in a copy of the workflow in a temp dir.

One smoke run (about 40 s on 2 cores) is shared by the tests of this module; each test that edits
the copy restores it. Deselect with `pytest -m "not integration"`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
# What a checkout needs to run the workflow (src/ is installed; the copy uses its own conf/).
WORKFLOW_FILES = ("Snakefile", "workflow", "conf", "profiles", "environment.yml")
SMOKE = ("--config", "scale=smoke", "tracking=disabled")


def copy_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


def snakemake(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run this environment's snakemake in `workdir`, with the copy's conf/ and wandb off."""
    env = dict(os.environ)
    env["REPRO_CONF_DIR"] = str(workdir / "conf")
    env["WANDB_MODE"] = "disabled"
    # the rules call `python -m repro ...`: make it this interpreter
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def output_of(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def planned_jobs(text: str) -> list[tuple[str, str | None]]:
    """(rule, shard wildcard or None) of every job a `snakemake -n` output lists."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", "\n" + text):
        m = re.match(r"(?:local)?rule (\w+):\n", block)
        if not m:
            continue
        wc = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        wildcards = dict(kv.split("=", 1) for kv in wc.group(1).split(", ")) if wc else {}
        jobs.append((m.group(1), wildcards.get("shard")))
    return sorted(jobs, key=lambda j: (j[0], j[1] or ""))


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """A copy of the workflow after one full smoke run (and its Snakemake report)."""
    wd = copy_workflow(tmp_path_factory.mktemp("workflow"))
    proc = snakemake(wd, "--cores", "2", *SMOKE)
    assert proc.returncode == 0, f"smoke run failed:\n{output_of(proc)[-6000:]}"
    return wd


def test_smoke_run_writes_report_with_every_claim(smoke_run):
    from repro.experiments.f_principle import CLAIMS

    page = smoke_run / "reports/smoke/index.html"
    assert page.is_file()
    html = page.read_text()
    claims = json.loads((smoke_run / "results/smoke/f_principle/claims.json").read_text())
    text = json.dumps(claims)
    statuses = ("not reproduced", "reproduced", "inconclusive")
    for claim in CLAIMS:
        assert claim.id in text, f"claims.json lacks claim {claim.id}"
        # the id appears on the page right after a verdict badge
        badge = (
            r'class="badge[^"]*"[^>]*>\s*(?:'
            + "|".join(statuses)
            + r")\s*</span>\s*(?:<[^>]+>\s*)*"
            + re.escape(claim.id)
            + r"(?![\w-])"
        )
        assert re.search(badge, html), f"report shows no verdict badge for claim {claim.id}"
    assert "<svg" in html, "report embeds no SVG figure"
    for shard in ("fp1", "fp2", "fp3"):
        assert (smoke_run / f"results/smoke/f_principle/{shard}/table.csv").is_file()
        assert (smoke_run / f"results/smoke/f_principle/benchmarks/{shard}.tsv").is_file()
        assert (smoke_run / f"results/smoke/f_principle/logs/{shard}.log").is_file()
    assert list((smoke_run / "results/smoke/f_principle/figures").glob("*.svg"))


def test_snakemake_report_zip(smoke_run):
    proc = snakemake(smoke_run, *SMOKE, "--report", "reports/smoke/snakemake.zip")
    assert proc.returncode == 0, output_of(proc)[-4000:]
    assert (smoke_run / "reports/smoke/snakemake.zip").stat().st_size > 0
    # every figure carries its own caption (the aggregate's figures/captions.json) in its labels, not only the
    # shared caption text; read from Snakemake's own page, not from the repro page embedded in the zip
    import json
    import re
    import zipfile

    captions = json.loads((smoke_run / "results/smoke/f_principle/figures/captions.json").read_text())["captions"]
    with zipfile.ZipFile(smoke_run / "reports/smoke/snakemake.zip") as z:
        page = z.read(next(n for n in z.namelist() if n.endswith("/report.html"))).decode()
    labels = [json.loads(m) for m in re.findall(r'"labels": (\{[^{}]*\})', page)]
    shown = {lab["figure"]: lab.get("caption") for lab in labels if lab.get("experiment") == "f_principle"}
    assert shown == captions and all(shown.values())


def test_rerun_has_nothing_to_do(smoke_run):
    proc = snakemake(smoke_run, "-n", *SMOKE)
    assert proc.returncode == 0, output_of(proc)[-4000:]
    assert "Nothing to be done" in output_of(proc), output_of(proc)[-4000:]
    # switching wandb tracking does not make finished shards stale
    proc = snakemake(smoke_run, "-n", "--config", "scale=smoke", "tracking=offline")
    assert "Nothing to be done" in output_of(proc), output_of(proc)[-4000:]


def test_changing_one_value_reruns_only_that_shard(smoke_run):
    preset = smoke_run / "conf/preset/f_principle/smoke.yaml"
    original = preset.read_text()
    changed, n = re.subn(r"(?m)^(\s+max_steps:\s*)(\d+)", lambda m: f"{m.group(1)}{int(m.group(2)) + 10}", original)
    assert n == 1, "expected one max_steps (fp3's) in the smoke preset"
    try:
        preset.write_text(changed)
        proc = snakemake(smoke_run, "-n", *SMOKE)
        assert proc.returncode == 0, output_of(proc)[-4000:]
        jobs = planned_jobs(output_of(proc))
        assert jobs == [("aggregate", None), ("all", None), ("report", None), ("train_cpu", "fp3")], output_of(proc)[
            -6000:
        ]
    finally:
        preset.write_text(original)
    proc = snakemake(smoke_run, "-n", *SMOKE)
    assert "Nothing to be done" in output_of(proc)


def test_lint(smoke_run):
    proc = snakemake(smoke_run, "--lint", *SMOKE)
    assert proc.returncode == 0, output_of(proc)[-4000:]
    assert "good condition" in output_of(proc), output_of(proc)[-4000:]


def _executed(proc: subprocess.CompletedProcess) -> list[tuple[str, str | None]]:
    """(rule, shard) of every job a real (not -n) run started."""
    return planned_jobs(output_of(proc))


def test_editing_a_multi_shard_experiment_reruns_only_the_affected_shards(smoke_run):
    """The researcher's main move, for real: vary one condition of one experiment and rerun. Only the shards that
    read the value run again; the aggregate merges old and new shards and the report is rebuilt."""
    exp = smoke_run / "results/smoke/double_descent"
    preset = smoke_run / "conf/preset/double_descent/smoke.yaml"
    original = preset.read_text()
    changed, n = re.subn(r"(?m)^(\s+epochs:\s*)(\d+)", lambda m: f"{m.group(1)}{int(m.group(2)) + 1}", original)
    assert n == 1, "expected one epochs (mlp's) in the double_descent smoke preset"
    mlp = sorted(p.name for p in exp.iterdir() if p.name.startswith("mlp-"))
    assert len(mlp) >= 2
    rf, page, other = (
        exp / "rf/table.csv",
        smoke_run / "reports/smoke/index.html",
        smoke_run / "results/smoke/f_principle/claims.json",
    )
    before = {p: p.stat().st_mtime_ns for p in (rf, page, other)}
    try:
        preset.write_text(changed)
        proc = snakemake(smoke_run, "--cores", "2", *SMOKE)
        assert proc.returncode == 0, output_of(proc)[-6000:]
        jobs = _executed(proc)
        assert sorted(s for r, s in jobs if r == "train_cpu") == mlp, output_of(proc)[-6000:]
        assert sorted(r for r, _ in jobs if r != "train_cpu") == ["aggregate", "all", "report"], jobs
        assert rf.stat().st_mtime_ns == before[rf]  # rf does not read mlp
        assert other.stat().st_mtime_ns == before[other]  # another experiment is untouched
        assert page.stat().st_mtime_ns > before[page]  # the report was rebuilt
        epochs = int(re.search(r"epochs:\s*(\d+)", changed).group(1))
        assert re.search(rf"(?m)^\s+epochs: {epochs}$", (exp / mlp[0] / "config.yaml").read_text())
        assert "Nothing to be done" in output_of(snakemake(smoke_run, "-n", *SMOKE))
    finally:
        preset.write_text(original)
    proc = snakemake(smoke_run, "--cores", "2", *SMOKE)  # back to the fixture's state for any later test
    assert proc.returncode == 0, output_of(proc)[-6000:]


@pytest.mark.parametrize(
    "config, message",
    [
        (("scale=smoke", "sclae=laptop"), "'sclae' was unexpected"),
        (("scale=huge",), "'huge' is not one of"),
        (("scale=smoke", "experiments=[no_such_experiment]"), "unknown experiment(s) 'no_such_experiment'"),
    ],
)
def test_bad_config_fails_clearly_and_writes_nothing(tmp_path, config, message):
    wd = copy_workflow(tmp_path / "workflow")
    proc = snakemake(wd, "--cores", "2", "--config", *config)
    assert proc.returncode != 0
    assert message in output_of(proc), output_of(proc)[-4000:]
    assert not (wd / "results").exists()
    assert not (wd / "reports").exists()
