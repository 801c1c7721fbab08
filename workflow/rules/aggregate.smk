# Per experiment: the shards' tables -> results/S/E/{table.csv,claims.json,summary.json,figures/}.
# params.digest covers the experiment's whole config, so a change anywhere in it (a threshold, a
# deviation note) redoes the aggregate even when no shard had to rerun.


rule aggregate:
    input:
        tables=lambda wildcards: shard_outputs(wildcards.experiment),
        benchmarks=lambda wildcards: shard_benchmarks(wildcards.experiment),
    output:
        table="results/{scale}/{experiment}/table.csv",
        claims="results/{scale}/{experiment}/claims.json",
        summary="results/{scale}/{experiment}/summary.json",
        figures=report(
            directory("results/{scale}/{experiment}/figures"),
            patterns=["{name}.svg"],
            caption="../report/figure.rst",
            category="{experiment}",
            subcategory="Figures",
            labels={"experiment": "{experiment}", "figure": "{name}"},
        ),
    params:
        digest=lambda wildcards: EXPERIMENT_DIGEST[wildcards.experiment],
        benchmarks=lambda wildcards, input: os.path.dirname(input.benchmarks[0]),
    log:
        "results/{scale}/{experiment}/logs/aggregate.log",
    conda:
        "../../environment.yml"
    shell:
        "python -m repro.aggregate --scale {wildcards.scale} --experiment {wildcards.experiment}"
        " --benchmarks {params.benchmarks} > {log} 2>&1"
