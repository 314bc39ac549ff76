"""`railyard_trainer`: a workflow packaged with pex into one self-contained, stamped `.pex` trainer.

The pex (a `railyard_binary`, see pex.bzl) holds the trainer runtime, the workflow sources,
and the wheels of the requirements' closure as computed by Bazel from the wheel repositories;
not the service, launcher or command line. The target returns RailyardBinaryInfo. Its smoke
test `<name>_test` is smoke_test.sh.tpl expanded to run smoke_test.py.
"""

load("//rules/private:pex.bzl", "railyard_binary")

def _shell_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"

def _railyard_trainer_test_impl(ctx):
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    values = {
        "%DRIVER%": ctx.file._driver.short_path,
        "%TRAINER%": ctx.executable.trainer.short_path,
        "%SPEC%": ctx.file.spec.short_path,
        "%TARGET%": str(ctx.attr.trainer.label),
        "%DATA_MODULE%": ctx.attr.data_module,
        "%DATA_FILE%": ctx.file.data_file.short_path if ctx.file.data_file else "",
        "%DATA_ARGS%": " ".join(ctx.attr.data_args),
        "%METRIC%": ctx.attr.metric,
        "%AT_LEAST%": ctx.attr.at_least,
        "%PARAMS%": json.encode(ctx.attr.custom_params),
    }
    ctx.actions.expand_template(
        template = ctx.file._template,
        output = script,
        substitutions = {key: _shell_quote(value) for key, value in values.items()},
        is_executable = True,
    )
    runfiles = ctx.runfiles(files = [ctx.file._driver, ctx.file.spec, ctx.executable.trainer] +
                                    ([ctx.file.data_file] if ctx.file.data_file else []))
    return [DefaultInfo(executable = script, runfiles = runfiles)]

railyard_trainer_test = rule(
    implementation = _railyard_trainer_test_impl,
    doc = "Runs a trainer on a sample of the workflow's data checked in beside its spec (`data_file`), or on " +
          "freshly generated sample data, and checks its result.json: the job completed, " +
          "`metric` reached `at_least`, the model was saved, and the stamp (sha256, target, commit) is right.",
    attrs = {
        "trainer": attr.label(mandatory = True, executable = True, cfg = "target", doc = "The railyard_pex under test."),
        "spec": attr.label(mandatory = True, allow_single_file = [".json"], doc = "Training spec; its data paths are replaced."),
        "data_module": attr.string(default = "workflows.data.charges", doc = "Sample-data generator module, run inside the trainer pex."),
        "data_file": attr.label(allow_single_file = [".parquet"], doc = "A sample of the workflow's own data; when given, " +
                                                                         "the generator is not run."),
        "data_args": attr.string_list(default = ["--rows", "20000"], doc = "Its arguments besides --out."),
        "metric": attr.string(default = "roc_auc", doc = "Holdout metric that must reach `at_least`."),
        "at_least": attr.string(default = "0.6", doc = "Lowest acceptable value of `metric` (a number)."),
        "custom_params": attr.string_dict(doc = "Overrides of train.custom_params (JSON values), to keep the run short."),
        "_driver": attr.label(
            default = Label("//rules/private:smoke_test.py"),
            allow_single_file = True,
            doc = "The test's driver: generates the data, runs the trainer, checks result.json.",
        ),
        "_template": attr.label(
            default = Label("//rules/private:smoke_test.sh.tpl"),
            allow_single_file = True,
            doc = "The test's script, which runs the driver with this target's settings.",
        ),
    },
    test = True,
)

def railyard_trainer(
        name,
        workflow_srcs,
        requirements = [],
        entry_point = "railyard.trainer:main",
        stamp = -1,
        smoke_spec = None,
        smoke_params = {},
        smoke_data = None,
        wheelhouse = "@pypi",
        **kwargs):
    """A trainer binary `<name>` (`<name>.pex`) and, given `smoke_spec`, its smoke test `<name>_test`.

    Args:
      name: target name; the binary is `<name>.pex`.
      workflow_srcs: the workflow's Python sources (and anything else the pex must carry).
      requirements: project names from requirements.lock that the workflow imports, e.g. ["xgboost-cpu"].
        Versions come from the lock; the trainer runtime's own requirements are always added.
      entry_point: module:function the pex runs.
      stamp: 1 always embed the git commit, 0 never, -1 follow `--stamp` (on in .bazelrc).
      smoke_spec: a training spec to run the binary with under `bazel test`: on `smoke.parquet` beside the spec
        when there is one (a few thousand rows of the workflow's own data), else on generated sample data.
      smoke_params: custom_params overrides (JSON values as strings) for the smoke test.
      smoke_data: dict with the smoke test's `data_file` or `data_module` and `data_args`, `metric` and
        `at_least` (default: smoke.parquet beside the spec, else 20,000 sample charges; ROC AUC at least 0.6).
      wheelhouse: the repository of locked wheels to take requirements from (@pypi_gpu for CUDA builds).
      **kwargs: common attributes (visibility, tags) for the binary.
    """
    railyard_binary(
        name = name,
        srcs = workflow_srcs,
        requirements = requirements,
        entry_point = entry_point,
        stamp = stamp,
        wheelhouse = wheelhouse,
        **kwargs
    )
    if smoke_spec:
        smoke_data = dict(smoke_data or {})
        if type(smoke_spec) == "string" and not smoke_spec.startswith(("//", ":", "@")):  # a file of this package
            folder = smoke_spec.rpartition("/")[0]
            beside = native.glob([(folder + "/" if folder else "") + "smoke.parquet"])
            if beside and "data_module" not in smoke_data:
                smoke_data.setdefault("data_file", beside[0])
        railyard_trainer_test(
            name = name + "_test",
            trainer = ":" + name,
            spec = smoke_spec,
            custom_params = smoke_params,
            size = "medium",
            **smoke_data
        )
