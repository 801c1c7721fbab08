# Reads the Snakemake config and builds the plan (experiment × scale → shards) at parse time.
#
# Everything the rules need to know about a shard (its digest, data files, threads, memory, GPU) comes from
# `repro.plan.plan`, so the Hydra config in conf/ is the single source of truth.  A bad --config
# (unknown key or scale: the schema; unknown experiment: here) stops the workflow before any job runs.
#
# All rules name environment.yml as their conda environment, which documents the software (and
# keeps `snakemake --lint` clean). Rules run in the environment snakemake itself runs in, where
# `pip install -e ".[test]"` put repro; the file's pip section installs this checkout editable,
# which works with `conda env create -f environment.yml`, not with `--sdm conda`.
import os
import sys

from snakemake.exceptions import WorkflowError

# The Hydra config tree beside this Snakefile, for the plan and for every job (jobs inherit the
# environment; a cluster job re-parses this file and sets it again).  Set REPRO_CONF_DIR to use another.
os.environ.setdefault("REPRO_CONF_DIR", str(Path(workflow.basedir) / "conf"))
# The wandb mode reaches the shard jobs through the environment, not through params, so that
# switching it (e.g. --config tracking=disabled) does not make finished shards stale.
os.environ.update(REPRO_TRACKING=config["tracking"])

try:
    from repro import config as repro_config
    from repro import paths
    from repro.paths import digest as repro_digest
    from repro.plan import plan as repro_plan
except ImportError as e:
    raise WorkflowError(
        f"cannot import the repro package ({e}); install it into the environment that runs snakemake: "
        f"pip install -e '.[test]'  (this snakemake runs {sys.executable})"
    )


def _experiments(value):
    """config['experiments'] as a list: "all", a list, or one name (also "a,b" or "a b")."""
    available = repro_config.available_experiments()
    names = value if isinstance(value, list) else str(value).replace(",", " ").split()
    names = [str(n).strip() for n in names if str(n).strip()]
    if names == ["all"]:
        return available
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        raise WorkflowError(
            f"unknown experiment(s) {', '.join(map(repr, unknown)) or repr(value)} in --config experiments=...; "
            f"valid choices: all, {', '.join(available)} (the files in {repro_config.conf_dir() / 'experiment'})"
        )
    return list(dict.fromkeys(names))


def _experiment_digest(experiment, scale):
    """Digest of an experiment's whole config at a scale: what its aggregate and figures depend on."""
    cfg = repro_config.compose([f"experiment={experiment}", f"scale={scale}"])
    return repro_digest(
        {
            "experiment": repro_config.to_dict_part(cfg.experiment),
            "scale": repro_config.to_dict_part(cfg.scale),
        }
    )


SCALE = config["scale"]
EXPERIMENTS = _experiments(config["experiments"])
try:
    PLAN = {e: repro_plan(e, SCALE) for e in EXPERIMENTS}
    EXPERIMENT_DIGEST = {e: _experiment_digest(e, SCALE) for e in EXPERIMENTS}
except repro_config.ConfigError as e:
    raise WorkflowError(f"invalid configuration in {repro_config.conf_dir()}: {e}")

SHARDS = {(s.experiment, s.name): s for shards in PLAN.values() for s in shards}


def plan_summary():
    """The expected schedule (repro.plan.summary), printed once when the run starts: on the local cores, or on a
    cluster (which sets no cores, only how many jobs may run at once) as that many jobs side by side."""
    from repro.plan import summary

    try:
        cores = workflow.cores
    except WorkflowError:  # a cluster executor: --jobs, no --cores
        cores = workflow.nodes
    return summary(list(SHARDS.values()), int(cores or 1))


# Retries of the shard rule: None leaves them to the profile (slurm: 2, for failures). A shard planned as several
# jobs in a row (repro.plan.job_plan) needs allocations - 1 retries to finish, plus as many for failures.
FAILURE_RETRIES = 2
_MOST_JOBS = max((s.allocations for s in SHARDS.values()), default=1)
PLANNED_RETRIES = _MOST_JOBS - 1 + FAILURE_RETRIES if _MOST_JOBS > 1 else None
# Every dataset file any shard reads: path -> (family, params JSON).
DATA = {path: (family, params) for s in SHARDS.values() for family, params, path in s.data}
# GPU resources only when the scale asks for one (the scale decides it for all shards alike).
GPU = any(s.gpu for s in SHARDS.values())
if GPU and not all(s.gpu for s in SHARDS.values()):
    raise WorkflowError(f"scale {SCALE}: some shards ask for a GPU and some do not; the workflow expects one kind")
GPU_RESOURCES = {"gpu": 1} if GPU else {}


wildcard_constraints:
    scale=SCALE,
    experiment="|".join(EXPERIMENTS),
    shard="[^/]+",
    family="[^/]+",
    key="[^/]+",


def shard(wildcards):
    """The planned shard a job's wildcards name."""
    return SHARDS[(wildcards.experiment, wildcards.shard)]


# Path patterns of the rules, from repro.paths (the file names run, aggregate and report use too).
EXPERIMENT_DIR = f"{paths.RESULTS}/{{scale}}/{{experiment}}"
SHARD_DIR = f"{EXPERIMENT_DIR}/{{shard}}"


def shard_outputs(experiment, name=paths.TABLE):
    return [f"{s.out}/{name}" for s in PLAN[experiment]]


def shard_benchmarks(experiment):
    d = paths.experiment_dir(SCALE, experiment) / paths.BENCHMARKS_DIR
    return [str(d / f"{s.name}.tsv") for s in PLAN[experiment]]


def figure_labels(wildcards):
    """The labels of one figure in Snakemake's report, read when the report is built (the aggregate has written
    figures/captions.json by then): the experiment, the figure's name and its own caption."""
    import json

    path = paths.experiment_dir(wildcards.scale, wildcards.experiment) / paths.FIGURES_DIR / paths.CAPTIONS_JSON
    try:
        caption = json.loads(path.read_text())["captions"].get(wildcards.name, "")
    except (OSError, ValueError, KeyError):
        caption = ""
    return {"experiment": wildcards.experiment, "figure": wildcards.name, "caption": caption}
