"""One locked wheel and the wheels it needs: the `pkg` target of each package's repository."""

WheelInfo = provider(
    doc = "A locked wheel and the transitive closure of the wheels it requires.",
    fields = {
        "project": "str: the project name as pinned in the lock.",
        "version": "str: the pinned version.",
        "wheel": "File: this project's wheel.",
        "closure": "depset of File: this wheel and every wheel it requires, transitively.",
        "bytecode": "depset of File: the compiled modules (compile_wheel.py's archive) of every wheel in `closure`.",
        "pins": "depset of str: `project==version` for every wheel in the closure.",
    },
)

def _railyard_wheel_impl(ctx):
    deps = [d[WheelInfo] for d in ctx.attr.deps]
    bytecode = ctx.actions.declare_file(ctx.file.wheel.basename + ".pyc.zip")
    ctx.actions.run(
        executable = ctx.executable._python,
        arguments = [ctx.file._compiler.path, ctx.file.wheel.path, bytecode.path],
        inputs = [ctx.file._compiler, ctx.file._boot, ctx.file.wheel],
        outputs = [bytecode],
        mnemonic = "RailyardBytecode",
        progress_message = "Compiling the modules of %s" % ctx.file.wheel.basename,
    )
    return [
        DefaultInfo(files = depset([ctx.file.wheel])),
        WheelInfo(
            project = ctx.attr.project,
            version = ctx.attr.version,
            wheel = ctx.file.wheel,
            closure = depset([ctx.file.wheel], transitive = [d.closure for d in deps]),
            bytecode = depset([bytecode], transitive = [d.bytecode for d in deps]),
            pins = depset(["%s==%s" % (ctx.attr.project, ctx.attr.version)], transitive = [d.pins for d in deps]),
        ),
    ]

railyard_wheel = rule(
    implementation = _railyard_wheel_impl,
    doc = "A verified locked wheel. Generated as `//:pkg` of each package's repository; not written by hand.",
    attrs = {
        "project": attr.string(mandatory = True, doc = "Project name as pinned in the lock."),
        "version": attr.string(mandatory = True, doc = "Pinned version."),
        "wheel": attr.label(mandatory = True, allow_single_file = [".whl"], doc = "The wheel file, its hash already verified."),
        "deps": attr.label_list(providers = [WheelInfo], doc = "The wheels this one requires on this platform."),
        "_compiler": attr.label(
            default = Label("//rules/private:compile_wheel.py"),
            allow_single_file = True,
            doc = "The bytecode action's script.",
        ),
        "_boot": attr.label(
            default = Label("//rules/private:boot.py"),
            allow_single_file = True,
            doc = "Imported by `_compiler`: which of the wheel's files the boot unpacks.",
        ),
        "_python": attr.label(
            default = Label("@pypi//:python_tool"),
            executable = True,
            cfg = "exec",
            allow_single_file = True,
            doc = "The tools repository's interpreter; the bytecode is that Python's.",
        ),
    },
)
