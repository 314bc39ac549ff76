"""`railyard_binary`: the railyard runtime, more sources and locked wheels packaged with pex into one
self-contained, stamped `.pex` file.

Every railyard binary holds the trainer runtime (`//railyard:runtime_srcs`: spec, workflow,
pipeline, model, storage, trainer) and its requirements; a trainer adds one workflow
(`railyard_trainer`), the service adds the API, launcher and command line (`//:railyard_service`).
Nothing else of the repository goes in, so editing a route leaves every trainer's bytes alone.
The pex also holds `railyard/_build_info.json` (stamped) and the wheels of the requirements'
closure as computed by Bazel from the wheel repositories. It runs in pex's `--venv` mode: the
first run builds a virtualenv under PEX_ROOT, later runs start it directly.
"""

load("//rules/private:providers.bzl", "RailyardBinaryInfo")
load("//rules/private:stamp.bzl", "is_stamping")
load("//rules/private:wheel.bzl", "WheelInfo")

# What the trainer runtime imports; every railyard binary gets these.
RUNTIME_REQUIREMENTS = ["boto3", "numpy", "pandas", "pyarrow", "pydantic", "scikit-learn"]

def wheel_label(project, wheelhouse = "@pypi"):
    """The hub's target of a project: `scikit-learn` → `@pypi//:scikit_learn`."""
    return "%s//:%s" % (wheelhouse, project.lower().replace("-", "_").replace(".", "_"))

def _railyard_pex_impl(ctx):
    output = ctx.actions.declare_file(ctx.label.name + ".pex")
    requirements = [r[WheelInfo] for r in ctx.attr.requirements]
    wheels = depset(transitive = [r.closure for r in requirements])
    bytecode = depset(transitive = [r.bytecode for r in requirements])
    pins = depset(transitive = [r.pins for r in requirements])
    srcs = ctx.files._runtime + ctx.files.srcs

    args = ctx.actions.args()
    args.add(ctx.file._builder)
    args.add("--output", output)
    args.add("--pex-tool", ctx.executable._pex)
    args.add("--entry-point", ctx.attr.entry_point)
    args.add("--target", str(ctx.label))
    args.add("--boot", ctx.file._boot)
    args.add("--launcher", ctx.file._launcher)
    args.add_all(srcs, before_each = "--src", map_each = _src_mapping)
    args.add_all(wheels, before_each = "--wheel")
    args.add_all(bytecode, before_each = "--bytecode")
    args.add_all(requirements, before_each = "--requirement", map_each = _project)
    args.add_all(pins, before_each = "--pin")
    inputs = [ctx.file._builder, ctx.file._compiler, ctx.file._boot, ctx.file._launcher]
    if is_stamping(ctx):
        args.add("--stable-status", ctx.info_file)
        inputs.append(ctx.info_file)

    ctx.actions.run(
        executable = ctx.executable._python,
        arguments = [args],
        inputs = depset(inputs + srcs, transitive = [wheels, bytecode]),
        tools = [ctx.executable._pex],
        outputs = [output],
        mnemonic = "RailyardPex",
        progress_message = "Packaging %s" % ctx.label,
    )

    digest = ctx.actions.declare_file(ctx.label.name + ".pex.sha256")
    ctx.actions.run_shell(
        command = 'sha256sum "$1" | cut -d " " -f 1 > "$2"',
        arguments = [output.path, digest.path],
        inputs = [output],
        outputs = [digest],
        mnemonic = "RailyardSha256",
        progress_message = "Hashing %s" % output.short_path,
    )
    return [
        DefaultInfo(executable = output, files = depset([output]), runfiles = ctx.runfiles(files = [output])),
        OutputGroupInfo(sha256 = depset([digest])),
        RailyardBinaryInfo(
            pex = output,
            sha256 = digest,
            requirements = pins,
            srcs = depset(ctx.files.srcs),
            entry_point = ctx.attr.entry_point,
            target = str(ctx.label),
        ),
    ]

def _src_mapping(f):
    return "%s=%s" % (f.short_path, f.path)

def _project(info):
    return info.project

_PEX_ATTRS = {
    "srcs": attr.label_list(
        allow_files = [".py", ".json", ".html", ".mako", ".yaml", ".j2"],
        doc = "Python sources and package data (templates, migrations, configs) besides the runtime, placed " +
              "in the pex at their workspace paths (workflows/…, railyard/api/…) and read there through " +
              "importlib.resources.",
    ),
    "requirements": attr.label_list(
        providers = [WheelInfo],
        doc = "Wheel targets (`@pypi//:<project>`) of the packages the sources import; their locked closure is included.",
    ),
    "entry_point": attr.string(default = "railyard.trainer:main", doc = "module:function run by the pex."),
    "stamp": attr.int(
        default = -1,
        values = [-1, 0, 1],
        doc = "1: embed the git commit from the workspace status; 0: never (reports `unknown`); -1: follow --stamp.",
    ),
    "_runtime": attr.label(
        default = Label("//railyard:runtime_srcs"),
        allow_files = True,
        doc = "The trainer runtime's sources, in every binary.",
    ),
    "_stamp_flag": attr.label(
        default = Label("//rules/private:stamp"),
        doc = "Whether --stamp is on (StampSettingInfo); read when `stamp` is -1.",
    ),
    "_builder": attr.label(
        default = Label("//rules/private:build_pex.py"),
        allow_single_file = True,
        doc = "The build action's script: stages the sources, writes the build info, runs pex.",
    ),
    "_compiler": attr.label(
        default = Label("//rules/private:compile_wheel.py"),
        allow_single_file = True,
        doc = "Imported by `_builder`: compiles the sources into the binary's bytecode archive.",
    ),
    "_boot": attr.label(
        default = Label("//rules/private:boot.py"),
        allow_single_file = True,
        doc = "The pex's `__main__.py`: starts the binary from a virtualenv unpacked once (see boot.py).",
    ),
    "_launcher": attr.label(
        default = Label("//rules/private:launcher.py"),
        allow_single_file = True,
        doc = "The virtualenv's entry script, which serves imports from the shipped bytecode (see launcher.py).",
    ),
    "_pex": attr.label(
        default = Label("@pypi//:pex_tool"),
        executable = True,
        cfg = "exec",
        allow_single_file = True,
        doc = "pex from the lock's tools repository.",
    ),
    "_python": attr.label(
        default = Label("@pypi//:python_tool"),
        executable = True,
        cfg = "exec",
        allow_single_file = True,
        doc = "The tools repository's interpreter, which runs `_builder`.",
    ),
}

railyard_pex = rule(
    implementation = _railyard_pex_impl,
    doc = "Builds `<name>.pex` with pex from locked wheels, and `<name>.pex.sha256` (output group `sha256`); " +
          "returns RailyardBinaryInfo. `bazel run` runs the pex.",
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
      name: target name; the binary is `<name>.pex`, its sha256 `<name>.pex.sha256`.
      srcs: sources and package data besides the runtime (a workflow; the service's sources and templates).
      requirements: project names from the lock that `srcs` import, e.g. ["xgboost-cpu"]. Versions come
        from the lock; the runtime's own requirements are always added.
      entry_point: module:function the pex runs.
      stamp: 1 always embed the git commit, 0 never, -1 follow `--stamp` (on in .bazelrc).
      wheelhouse: the hub repository to take requirements from (@pypi_gpu for CUDA builds).
      **kwargs: common attributes (visibility, tags).
    """
    projects = []
    for project in RUNTIME_REQUIREMENTS + requirements:
        if project not in projects:
            projects.append(project)
    railyard_pex(
        name = name,
        srcs = srcs,
        requirements = [wheel_label(p, wheelhouse) for p in projects],
        entry_point = entry_point,
        stamp = stamp,
        **kwargs
    )
