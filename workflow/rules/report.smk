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
