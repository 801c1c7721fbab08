"""Compose and validate a run's configuration.

Hydra composes `conf/` (root config, experiment protocol, scale preset, per-experiment preset,
tracking mode) with the user's overrides. The result is then merged onto structured configs
(dataclasses) so that a typo'd key, a value of the wrong type or an out-of-range value stops here,
before any compute and before anything is written.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

SCALES = ("smoke", "laptop", "paper")
TRACKING_MODES = ("disabled", "offline", "online")
DEVICES = ("auto", "cpu", "cuda")


class ConfigError(ValueError):
    """A user mistake in the configuration. The message names the bad value and the valid choices."""


def conf_dir() -> Path:
    """The Hydra config tree: $REPRO_CONF_DIR, else the repo's conf/ beside src/."""
    env = os.environ.get("REPRO_CONF_DIR")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2] / "conf"
    return here if here.is_dir() else Path.cwd() / "conf"


def available_experiments() -> list[str]:
    """Every experiment with a protocol file in conf/experiment/ (the registry is the directory)."""
    return sorted(p.stem for p in (conf_dir() / "experiment").glob("*.yaml"))


def experiment_module(name: str):
    """The module `repro.experiments.<name>` that implements an experiment."""
    if name not in available_experiments():
        raise ConfigError(f"unknown experiment {name!r}; valid choices: {', '.join(available_experiments())}")
    return importlib.import_module(f"repro.experiments.{name}")


# ---------------------------------------------------------------- structured configs (schemas)


def positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")


def non_negative(name: str, value: float) -> None:
    if value < 0:
        raise ConfigError(f"{name} must be >= 0, got {value!r}")


def one_of(name: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not valid; valid choices: {', '.join(map(str, choices))}")


# Minutes of each cluster job set aside for starting (imports, data) and for the checkpoint written when the
# scheduler stops it (repro.plan).
JOB_MARGIN_MIN = 10


@dataclass
class ScaleConfig:
    name: str = "laptop"
    seeds: int = 5  # seeds 0 .. seeds-1
    device: str = "auto"  # auto: cuda if available, else cpu
    gpu: bool = False  # whether Snakemake asks the scheduler for a GPU
    threads: int = 2  # torch threads and Snakemake `threads:` per shard job
    mem_mb: int = 4000
    runtime_min: int = 30  # wall-time request per shard job on a cluster, when the plan has no estimate of its own
    # The longest wall time one cluster job may run (the partition's MaxTime); null: no limit (a laptop). A shard
    # expected to need longer is planned as several jobs in a row, each resuming from the last one's checkpoint.
    job_limit_min: int | None = None
    # The sustained training throughput assumed for shards whose FLOPs are counted but whose time was never
    # measured (repro.plan); null: such shards get runtime_min.
    device_tflops: float | None = None

    def __post_init__(self) -> None:
        one_of("scale.name", self.name, SCALES)
        positive("scale.seeds", self.seeds)
        one_of("scale.device", self.device, DEVICES)
        positive("scale.threads", self.threads)
        positive("scale.mem_mb", self.mem_mb)
        positive("scale.runtime_min", self.runtime_min)
        if self.job_limit_min is not None:
            positive("scale.job_limit_min", self.job_limit_min)
            if self.job_limit_min <= JOB_MARGIN_MIN:
                raise ConfigError(
                    f"scale.job_limit_min={self.job_limit_min} leaves no time to train: a job spends "
                    f"up to {JOB_MARGIN_MIN} min starting and checkpointing; give more, or null"
                )
        if self.device_tflops is not None:
            positive("scale.device_tflops", self.device_tflops)


@dataclass
class TrackingConfig:
    mode: str = "offline"
    project: str = "repro"
    dir: str = ".wandb"

    def __post_init__(self) -> None:
        one_of("tracking.mode", self.mode, TRACKING_MODES)


@dataclass
class RunConfig:
    """The root config. `experiment` is the experiment module's own `Config` dataclass."""

    experiment: Any
    scale: ScaleConfig = field(default_factory=ScaleConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int | None = None  # run only this seed (by hand); None runs all of scale.seeds
    shard: str | None = None  # run only this shard; None runs every shard in turn
    out: str | None = None  # output dir; default results/<scale>/<experiment>/<shard>
    data_dir: str = "data"

    def __post_init__(self) -> None:
        if self.seed is not None:
            non_negative("seed", self.seed)

    @property
    def seeds(self) -> list[int]:
        """The training seeds: `seed` alone, else scale.seeds of them from the experiment's first_seed."""
        if self.seed is not None:
            return [self.seed]
        first = self.experiment.first_seed
        return list(range(first, first + self.scale.seeds))


# ---------------------------------------------------------------- composition


def _check_choice(overrides: list[str], group: str, valid: list[str]) -> None:
    for ov in overrides:
        key, _, value = ov.partition("=")
        if key.lstrip("+~") == group and value not in valid:
            raise ConfigError(f"unknown {group} {value!r}; valid choices: {', '.join(valid)}")


def compose(overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Compose conf/ with Hydra overrides and validate it into a `RunConfig`."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    overrides = list(overrides)
    _check_choice(overrides, "experiment", available_experiments())
    _check_choice(overrides, "scale", list(SCALES))
    _check_choice(overrides, "tracking", list(TRACKING_MODES))
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            raw = hydra_compose("config", overrides=overrides)
    except HydraException as e:
        raise ConfigError(_first_paragraph(str(e))) from None
    return validate(OmegaConf.to_container(raw, resolve=True))


def validate(raw: dict) -> RunConfig:
    """Check a plain composed dict against the schemas; raise ConfigError naming what is wrong."""
    name = (raw.get("experiment") or {}).get("name")
    module = experiment_module(name)
    try:
        # the experiment's schema from its class, not an instance: its fields may be MISSING (conf/ gives
        # every value), and __post_init__ validates only the composed values
        schema = OmegaConf.structured(RunConfig(experiment=OmegaConf.structured(module.Config)))
        merged = OmegaConf.merge(schema, raw)
        cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        raise ConfigError(_omegaconf_message(e)) from None
    if cfg.shard is not None:
        valid = list(module.shards(cfg.experiment))
        if cfg.shard not in valid:
            raise ConfigError(f"unknown shard {cfg.shard!r} for {name}; valid choices: {', '.join(valid)}")
    return cfg


def _first_paragraph(text: str) -> str:
    return text.split("\nConfig search path")[0].strip()


def _omegaconf_message(e: OmegaConfBaseException) -> str:
    key = getattr(e, "full_key", None) or ""
    msg = str(e).split("\n")[0]
    if "not in struct" in msg or "Key '" in msg and "not in" in msg:
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        return f"unknown config key {key!r}; valid keys{' under ' + parent if parent else ''}: {_valid_keys(e)}"
    return f"invalid value for {key or 'config'}: {msg}"


def _valid_keys(e: OmegaConfBaseException) -> str:
    obj = getattr(e, "object_type", None)
    if obj is not None and dataclasses.is_dataclass(obj):
        return ", ".join(f.name for f in dataclasses.fields(obj))
    return "(see conf/)"


def to_dict(cfg: RunConfig) -> dict:
    """A plain, JSON/YAML-ready dict of a validated config (the frozen config of a run)."""
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)


def to_dict_part(part) -> object:
    """A plain dict of a sub-config (a dataclass) or the value itself."""
    return dataclasses.asdict(part) if dataclasses.is_dataclass(part) else part


def to_yaml(cfg: RunConfig) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg), sort_keys=False)
