"""`railyard_trainer`: a workflow packaged with pex into one self-contained, stamped `.pex` trainer.

The pex holds the railyard package, the workflow sources, and the wheels of
the requirements' closure as computed by Bazel from the wheelhouse targets.
It runs in pex's `--venv` mode: the first run builds a virtualenv under
PEX_ROOT, later runs start it directly.
"""

load("//rules/private:wheel.bzl", "WheelInfo")

# What the railyard package itself imports; every trainer gets these.
RAILYARD_REQUIREMENTS = ["boto3", "numpy", "pandas", "pyarrow", "pydantic", "scikit-learn"]

def wheel_label(project, wheelhouse = "@pypi"):
    """The wheelhouse target of a project: `scikit-learn` → `@pypi//:scikit_learn`."""
    return "%s//:%s" % (wheelhouse, project.lower().replace("-", "_").replace(".", "_"))

def _stamping(ctx):
    if ctx.attr.stamp == 1:
        return True
    if ctx.attr.stamp == 0:
        return False
    return ctx.attr.stamp_flag

def _railyard_pex_impl(ctx):
    output = ctx.actions.declare_file(ctx.label.name + ".pex")
    requirements = [r[WheelInfo] for r in ctx.attr.requirements]
    wheels = depset(transitive = [r.closure for r in requirements])
    pins = depset(transitive = [r.pins for r in requirements])
    stamp = _stamping(ctx)

    args = ctx.actions.args()
    args.add(ctx.file._builder)
    args.add("--output", output)
    args.add("--pex-tool", ctx.executable._pex)
    args.add("--entry-point", ctx.attr.entry_point)
    args.add("--target", str(ctx.label))
    args.add_all(ctx.files.srcs, before_each = "--src", map_each = _src_mapping)
    args.add_all(wheels, before_each = "--wheel")
    args.add_all(requirements, before_each = "--requirement", map_each = _project)
    args.add_all(pins, before_each = "--pin")
    inputs = [ctx.file._builder]
    if stamp:
        args.add("--stable-status", ctx.info_file)
        inputs.append(ctx.info_file)

    ctx.actions.run(
        executable = ctx.executable._python,
        arguments = [args],
        inputs = depset(inputs + ctx.files.srcs, transitive = [wheels]),
        tools = [ctx.executable._pex],
        outputs = [output],
        mnemonic = "RailyardPex",
        progress_message = "Packaging trainer %s" % ctx.label,
    )
    return [DefaultInfo(executable = output, files = depset([output]), runfiles = ctx.runfiles(files = [output]))]

def _src_mapping(f):
    return "%s=%s" % (f.short_path, f.path)

def _project(info):
    return info.project

_PEX_ATTRS = {
    "srcs": attr.label_list(
        allow_files = [".py", ".json"],
        doc = "Python sources, placed in the pex at their workspace paths (railyard/…, workflows/…).",
    ),
    "requirements": attr.label_list(
        providers = [WheelInfo],
        doc = "Wheelhouse targets of the packages the trainer imports; their locked closure is included.",
    ),
    "entry_point": attr.string(default = "railyard.trainer:main", doc = "module:function run by the pex."),
    "stamp": attr.int(
        default = -1,
        values = [-1, 0, 1],
        doc = "1: embed the git commit from the workspace status; 0: never (reports `unknown`); -1: follow --stamp.",
    ),
    "stamp_flag": attr.bool(default = False, doc = "Set by the macro from --stamp; not for direct use."),
    "_builder": attr.label(default = Label("//rules/private:build_pex.py"), allow_single_file = True),
    "_pex": attr.label(default = Label("@pypi//:pex_tool"), executable = True, cfg = "exec", allow_single_file = True),
    "_python": attr.label(default = Label("@pypi//:python_tool"), executable = True, cfg = "exec", allow_single_file = True),
}

railyard_pex = rule(
    implementation = _railyard_pex_impl,
    doc = "Builds `<name>.pex` with pex from locked wheels; `bazel run` runs it.",
    attrs = _PEX_ATTRS,
    executable = True,
)

def _railyard_trainer_test_impl(ctx):
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(
        output = script,
        is_executable = True,
        content = "\n".join([
            "#!/usr/bin/env bash",
            "set -euo pipefail",
            "exec python3.11 %s --trainer %s --spec %s --target %s --data-module %s --data-args '%s' --metric %s --at-least %s --params '%s'" % (
                ctx.file._driver.short_path,
                ctx.executable.trainer.short_path,
                ctx.file.spec.short_path,
                str(ctx.attr.trainer.label),
                ctx.attr.data_module,
                " ".join(ctx.attr.data_args),
                ctx.attr.metric,
                ctx.attr.at_least,
                json.encode(ctx.attr.custom_params),
            ),
            "",
        ]),
    )
    runfiles = ctx.runfiles(files = [ctx.file._driver, ctx.file.spec, ctx.executable.trainer])
    return [DefaultInfo(executable = script, runfiles = runfiles)]

railyard_trainer_test = rule(
    implementation = _railyard_trainer_test_impl,
    doc = "Runs a trainer on freshly generated sample charges and checks its result.json.",
    attrs = {
        "trainer": attr.label(mandatory = True, executable = True, cfg = "target", doc = "The railyard_pex under test."),
        "spec": attr.label(mandatory = True, allow_single_file = [".json"], doc = "Training spec; its data paths are replaced."),
        "data_module": attr.string(default = "workflows.data.charges", doc = "Sample-data generator module, run inside the trainer pex."),
        "data_args": attr.string_list(default = ["--rows", "20000"], doc = "Its arguments besides --out."),
        "metric": attr.string(default = "roc_auc", doc = "Holdout metric that must reach `at_least`."),
        "at_least": attr.string(default = "0.6", doc = "Lowest acceptable value of `metric` (a number)."),
        "custom_params": attr.string_dict(doc = "Overrides of train.custom_params (JSON values), to keep the run short."),
        "_driver": attr.label(default = Label("//rules/private:smoke_test.py"), allow_single_file = True),
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
        Versions come from the lock; the railyard package's own requirements are always added.
      entry_point: module:function the pex runs.
      stamp: 1 always embed the git commit, 0 never, -1 follow `--stamp` (on in .bazelrc).
      smoke_spec: a training spec to run the binary with on generated sample data under `bazel test`.
      smoke_params: custom_params overrides (JSON values as strings) for the smoke test.
      smoke_data: dict with the smoke test's `data_module`, `data_args`, `metric` and `at_least`
        (default: 20,000 sample charges, ROC AUC at least 0.6).
      wheelhouse: the repository of locked wheels to take requirements from (@pypi_gpu for CUDA builds).
      **kwargs: common attributes (visibility, tags) for the binary.
    """
    projects = []
    for project in RAILYARD_REQUIREMENTS + requirements:
        if project not in projects:
            projects.append(project)
    railyard_pex(
        name = name,
        srcs = ["//railyard:srcs"] + workflow_srcs,
        requirements = [wheel_label(p, wheelhouse) for p in projects],
        entry_point = entry_point,
        stamp = stamp,
        stamp_flag = select({
            "//rules/private:stamp_enabled": True,
            "//conditions:default": False,
        }),
        **kwargs
    )
    if smoke_spec:
        railyard_trainer_test(
            name = name + "_test",
            trainer = ":" + name,
            spec = smoke_spec,
            custom_params = smoke_params,
            size = "medium",
            **(smoke_data or {})
        )
