# Per experiment: the shards' tables -> results/S/E/{table.csv,claims.json,summary.json,figures/}.
# params.digest covers the experiment's whole config, so a change anywhere in it (a threshold, a
# deviation note) redoes the aggregate even when no shard had to rerun.


rule aggregate:
    input:
        tables=lambda wildcards: shard_outputs(wildcards.experiment),
        benchmarks=lambda wildcards: shard_benchmarks(wildcards.experiment),
    output:
        table=f"{EXPERIMENT_DIR}/{paths.TABLE}",
        claims=f"{EXPERIMENT_DIR}/{paths.CLAIMS_JSON}",
        summary=f"{EXPERIMENT_DIR}/{paths.SUMMARY_JSON}",
        figures=report(
            directory(f"{EXPERIMENT_DIR}/{paths.FIGURES_DIR}"),
            patterns=["{name}.svg"],
            caption="../report/figure.rst",
            category="{experiment}",
            subcategory="Figures",
            labels=figure_labels,
        ),
    log:
        f"{EXPERIMENT_DIR}/{paths.LOGS_DIR}/aggregate.log",
    conda:
        "../../environment.yml"
    params:
        digest=lambda wildcards: EXPERIMENT_DIGEST[wildcards.experiment],
        benchmarks=lambda wildcards, input: os.path.dirname(input.benchmarks[0]),
    shell:
        "python -m repro.aggregate --scale {wildcards.scale} --experiment {wildcards.experiment}"
        " --benchmarks {params.benchmarks} > {log} 2>&1"
