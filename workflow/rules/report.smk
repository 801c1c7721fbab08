# All experiments of a scale -> reports/S/index.html, one self-contained page (figures embedded).
# `snakemake --report reports/S/snakemake.zip` bundles it with the figures and the run's provenance.


rule report:
    input:
        claims=expand("results/{{scale}}/{experiment}/claims.json", experiment=EXPERIMENTS),
        summaries=expand("results/{{scale}}/{experiment}/summary.json", experiment=EXPERIMENTS),
        tables=expand("results/{{scale}}/{experiment}/table.csv", experiment=EXPERIMENTS),
        figures=expand("results/{{scale}}/{experiment}/figures", experiment=EXPERIMENTS),
    output:
        html=report(
            "reports/{scale}/index.html",
            caption="../report/index.rst",
            category="Report",
            labels={"scale": "{scale}", "page": "index.html"},
        ),
    params:
        experiments=" ".join(EXPERIMENTS),
    log:
        "results/{scale}/logs/report.log",
    conda:
        "../../environment.yml"
    shell:
        "python -m repro.report --scale {wildcards.scale} --experiments {params.experiments}"
        " --out {output.html} > {log} 2>&1"


# Optional, never part of `all`: upload the offline wandb runs from a machine with network access
# (a login node): `snakemake sync_wandb`.  It runs where snakemake runs, never as a cluster job.
rule sync_wandb:
    localrule: True
    params:
        directory=".wandb",  # tracking.dir (conf/tracking/*.yaml)
    log:
        ".wandb/sync.log",
    conda:
        "../../environment.yml"
    shell:
        "(if ls -d {params.directory}/wandb/offline-run-* > /dev/null 2>&1; then"
        " wandb sync {params.directory}/wandb/offline-run-*;"
        " else echo 'no offline wandb runs under {params.directory}/wandb'; fi) 2>&1 | tee {log}"
