# repro: reproduce deep-learning theory results.  See README.md.
#
#   snakemake --cores all                                  # laptop scale, every experiment
#   snakemake --cores all --config scale=smoke experiments=[f_principle] tracking=disabled
#   snakemake --workflow-profile profiles/slurm --config scale=paper
#
# Thin on purpose: the config and its schema, the rules in workflow/rules/, and `rule all`.
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("8.20")


configfile: "workflow/config.yaml"


try:
    validate(config, "workflow/schemas/config.schema.yaml")
except WorkflowError as e:  # say what is wrong in one line, not with the whole schema
    cause = e.__cause__ or e.__context__ or e  # the jsonschema ValidationError
    raise WorkflowError(
        f"invalid config (workflow/config.yaml + --config): {getattr(cause, 'message', cause)}. "
        "Valid keys: scale=smoke|laptop|paper, experiments=all|<name>|[<name>,...], "
        "tracking=disabled|offline|online"
    ) from None


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"


onstart:
    print(plan_summary(), file=sys.stderr)


localrules:
    all,
    data,
    aggregate,
    report,


rule all:
    default_target: True
    input:
        str(paths.report_page(SCALE)),
