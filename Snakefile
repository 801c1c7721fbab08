# repro: reproduce deep-learning theory results.  See README.md.
#
#   snakemake --cores all                                  # laptop scale, every experiment
#   snakemake --cores all --config scale=smoke experiments=[f_principle] tracking=disabled
#   snakemake --workflow-profile profiles/slurm --config scale=paper
#
# Thin on purpose: the config and its schema, the rules in workflow/rules/, and `rule all`.
from snakemake.utils import min_version, validate

min_version("8.20")


configfile: "workflow/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"


localrules:
    all,
    data,
    aggregate,
    report,


rule all:
    input:
        f"reports/{SCALE}/index.html",
    default_target: True
