"""One module per reproduction. The experiments are the files in conf/experiment/; each names a module
here of the same name, which provides:

- `Config`: the dataclass schema of `cfg.experiment` (validation lives in its `__post_init__`);
- `shards(exp_cfg) -> dict[str, object]`: shard name -> the part of the config that shard depends on
  (its digest decides when Snakemake reruns the shard);
- `datasets(exp_cfg, shard) -> list[repro.data.DataRef]`: files the shard reads;
- `run_shard(ctx: repro.run.ShardContext) -> pandas.DataFrame`: the tidy table of one shard;
- `figures(table, cfg) -> list[repro.report.figures.Figure]`;
- `protocol(cfg) -> list[dict]`: rows (key, value, paper, note) for the report's protocol table;
- `CLAIMS: list[repro.claims.Claim]`.

Nothing outside an experiment's module and its conf files knows about that experiment.
"""
