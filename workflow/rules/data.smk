# Dataset files: data/<family>/<key>.npz, the key ending in a hash of the generation parameters.
# Offline families are generated; downloaded ones are checked against their checksums.


rule data:
    output:
        "data/{family}/{key}.npz",
    log:
        "data/logs/{family}/{key}.log",
    conda:
        "../../environment.yml"
    params:
        spec=lambda wildcards, output: DATA[output[0]][1],
    shell:
        "python -m repro.data {wildcards.family} {params.spec:q} {output} > {log} 2>&1"
