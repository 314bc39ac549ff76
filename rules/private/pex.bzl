"""`railyard_binary`: the railyard runtime, more sources and locked wheels packaged with pex into one
self-contained, stamped `.pex` file.

Every railyard binary holds the trainer runtime (`//railyard:runtime_srcs`: spec, workflow,
pipeline, model, storage, trainer) and its requirements; a trainer adds one workflow
(`railyard_trainer`), the service adds the API, launcher and command line (`//:railyard_service`).
Nothing else of the repository goes in, so editing a route leaves every trainer's bytes alone.
The pex also holds `railyard/_build_info.json` (stamped) and the wheels of the requirements'
closure as computed by Bazel from the wheelhouse targets. It runs in pex's `--venv` mode: the
first run builds a virtualenv under PEX_ROOT, later runs start it directly.
"""

load("//rules/private:wheel.bzl", "WheelInfo")

# What the trainer runtime imports; every railyard binary gets these.
RUNTIME_REQUIREMENTS = ["boto3", "numpy", "pandas", "pyarrow", "pydantic", "scikit-learn"]

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
        progress_message = "Packaging %s" % ctx.label,
    )
    return [DefaultInfo(executable = output, files = depset([output]), runfiles = ctx.runfiles(files = [output]))]

def _src_mapping(f):
    return "%s=%s" % (f.short_path, f.path)

def _project(info):
    return info.project

_PEX_ATTRS = {
    "srcs": attr.label_list(
        allow_files = [".py", ".json", ".html", ".mako", ".yaml", ".j2"],
        doc = "Python sources and package data (templates, migrations, configs), placed in the pex at " +
              "their workspace paths (railyard/…, workflows/…) and read there through importlib.resources.",
    ),
    "requirements": attr.label_list(
        providers = [WheelInfo],
        doc = "Wheelhouse targets of the packages the sources import; their locked closure is included.",
    ),
    "entry_point": attr.string(default = "railyard.trainer:main", doc = "module:function run by the pex."),
    "stamp": attr.int(
        default = -1,
        values = [-1, 0, 1],
        doc = "1: embed the git commit from the workspace status; 0: never (reports `unknown`); -1: follow --stamp.",
    ),
    "stamp_flag": attr.bool(default = False, doc = "Set by `railyard_binary` from --stamp; not for direct use."),
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

def railyard_binary(
        name,
        srcs,
        requirements = [],
        entry_point = "railyard.trainer:main",
        stamp = -1,
        wheelhouse = "@pypi",
        **kwargs):
    """`<name>.pex`: the trainer runtime, `srcs`, and the locked closure of the runtime's and `requirements`' wheels.

    Args:
      name: target name; the binary is `<name>.pex`.
      srcs: sources and package data besides the runtime (a workflow; the service's sources and templates).
      requirements: project names from the lock that `srcs` import, e.g. ["xgboost-cpu"]. Versions come
        from the lock; the runtime's own requirements are always added.
      entry_point: module:function the pex runs.
      stamp: 1 always embed the git commit, 0 never, -1 follow `--stamp` (on in .bazelrc).
      wheelhouse: the repository of locked wheels to take requirements from (@pypi_gpu for CUDA builds).
      **kwargs: common attributes (visibility, tags).
    """
    projects = []
    for project in RUNTIME_REQUIREMENTS + requirements:
        if project not in projects:
            projects.append(project)
    railyard_pex(
        name = name,
        srcs = ["//railyard:runtime_srcs"] + srcs,
        requirements = [wheel_label(p, wheelhouse) for p in projects],
        entry_point = entry_point,
        stamp = stamp,
        stamp_flag = select({
            "//rules/private:stamp_enabled": True,
            "//conditions:default": False,
        }),
        **kwargs
    )
