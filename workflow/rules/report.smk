# All experiments of a scale -> reports/S/index.html, one self-contained page (figures embedded).
# `snakemake --report reports/S/snakemake.zip` bundles it with the figures and the run's provenance.


rule report:
    input:
        claims=[paths.aggregate_outputs(SCALE, e)["claims"] for e in EXPERIMENTS],
        summaries=[paths.aggregate_outputs(SCALE, e)["summary"] for e in EXPERIMENTS],
        tables=[paths.aggregate_outputs(SCALE, e)["table"] for e in EXPERIMENTS],
        figures=[paths.experiment_dir(SCALE, e) / paths.FIGURES_DIR for e in EXPERIMENTS],
    output:
        html=report(
            str(paths.report_page("{scale}")),
            caption="../report/index.rst",
            category="Report",
            labels={"scale": "{scale}", "page": "index.html"},
        ),
    log:
        f"{paths.RESULTS}/{{scale}}/{paths.LOGS_DIR}/report.log",
    conda:
        "../../environment.yml"
    params:
        experiments=" ".join(EXPERIMENTS),
    shell:
        "python -m repro.report --scale {wildcards.scale} --experiments {params.experiments}"
        " --out {output.html} > {log} 2>&1"


# Optional, never part of `all`: upload the offline wandb runs from a machine with network access
# (a login node): `snakemake sync_wandb`.  It runs where snakemake runs, never as a cluster job.
rule sync_wandb:
    log:
        ".wandb/sync.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        directory=".wandb",  # tracking.dir (conf/tracking/*.yaml)
    shell:
        "(if ls -d {params.directory}/wandb/offline-run-* > /dev/null 2>&1; then"
        " wandb sync {params.directory}/wandb/offline-run-*;"
        " else echo 'no offline wandb runs under {params.directory}/wandb'; fi) 2>&1 | tee {log}"
