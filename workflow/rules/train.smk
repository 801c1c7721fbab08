# One job per shard: `python -m repro experiment=E scale=S shard=X` writes
# results/S/E/X/{config.yaml,provenance.json,table.csv} (table.csv last, atomically).
#
# params.digest is the digest of exactly the config the shard depends on: with Snakemake's params
# rerun trigger, changing one value reruns only the shards it reaches.  The rule is named
# train_gpu when the scale asks for a GPU (so a cluster profile can send it to a GPU partition
# with set-resources), train_cpu otherwise.  Outputs are written atomically, so a killed job
# leaves none half-written.  Resume checkpoints live in results/S/E/.X.scratch/ and are never
# declared outputs, because Snakemake deletes the declared outputs of failed jobs: a retry (the
# slurm profile sets retries) or a rerun resumes from them.  Memory and run time grow with each
# failed attempt, so a job killed for running out of either gets more the next time.  A shard
# longer than the scale's job limit is planned as several jobs of that limit in a row (repro.plan):
# the scheduler stops each at its limit, it checkpoints on SIGTERM, and the next attempt resumes.


rule train:
    name:
        "train_gpu" if GPU else "train_cpu"
    input:
        lambda wildcards: [path for _family, _params, path in shard(wildcards).data],
    output:
        table=f"{SHARD_DIR}/{paths.TABLE}",
        config=f"{SHARD_DIR}/{paths.FROZEN_CONFIG}",
        provenance=f"{SHARD_DIR}/{paths.PROVENANCE}",
    log:
        f"{EXPERIMENT_DIR}/{paths.LOGS_DIR}/{{shard}}.log",
    benchmark:
        f"{EXPERIMENT_DIR}/{paths.BENCHMARKS_DIR}/{{shard}}.tsv"
    # the longest shards start first (expected seconds, from the last measurement: repro.plan)
    priority: lambda wildcards: shard(wildcards).priority
    # None: the profile's retries. A shard planned as several jobs in a row (longer than scale.job_limit_min)
    # needs that many attempts before any failure: its planned resumptions, plus FAILURE_RETRIES.
    retries: PLANNED_RETRIES
    conda:
        "../../environment.yml"
    threads: lambda wildcards: shard(wildcards).threads
    resources:
        **GPU_RESOURCES,
        mem_mb=lambda wildcards, attempt: shard(wildcards).mem_request(attempt),
        runtime=lambda wildcards, attempt: shard(wildcards).runtime_request(attempt),
    params:
        digest=lambda wildcards: shard(wildcards).digest,
    shell:
        "python -m repro experiment={wildcards.experiment} scale={wildcards.scale} shard={wildcards.shard}"
        " tracking=${{REPRO_TRACKING:-offline}} > {log} 2>&1"
