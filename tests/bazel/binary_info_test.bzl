"""`binary_info_test`: reads a binary's RailyardBinaryInfo at analysis time and checks it when run.

The rule writes what the provider holds to `<name>.json`; `binary_info_check.py` then checks
that the sha256 file matches the pex's bytes, that every requirement is a pin of the lock, and
that the target, entry point and sources are the expected ones.
"""

load("//rules:defs.bzl", "RailyardBinaryInfo")

def _binary_info_test_impl(ctx):
    info = ctx.attr.binary[RailyardBinaryInfo]
    facts = ctx.actions.declare_file(ctx.label.name + ".json")
    ctx.actions.write(facts, json.encode({
        "pex": info.pex.short_path,
        "sha256": info.sha256.short_path,
        "requirements": info.requirements.to_list(),
        "srcs": [f.short_path for f in info.srcs.to_list()],
        "entry_point": info.entry_point,
        "target": info.target,
    }))
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(script, "\n".join([
        "#!/usr/bin/env bash",
        "exec python3.11 %s --lockfile %s --facts %s --lock %s --target %s --entry-point %s --src %s" % (
            ctx.file._check.short_path,
            ctx.file._lockfile.short_path,
            facts.short_path,
            ctx.file.lock.short_path,
            str(ctx.attr.binary.label),
            ctx.attr.entry_point,
            ctx.attr.src,
        ),
        "",
    ]), is_executable = True)
    runfiles = ctx.runfiles(files = [ctx.file._check, ctx.file._lockfile, facts, ctx.file.lock, info.pex, info.sha256])
    return [DefaultInfo(executable = script, runfiles = runfiles)]

binary_info_test = rule(
    implementation = _binary_info_test_impl,
    doc = "Checks the RailyardBinaryInfo of `binary` against its pex, the lock and the expected values.",
    attrs = {
        "binary": attr.label(mandatory = True, providers = [RailyardBinaryInfo], doc = "A railyard_binary or railyard_trainer target."),
        "lock": attr.label(mandatory = True, allow_single_file = True, doc = "The lock its requirements must be pins of."),
        "entry_point": attr.string(default = "railyard.trainer:main", doc = "The entry point the provider must report."),
        "src": attr.string(mandatory = True, doc = "A source (workspace path) the provider's srcs must hold."),
        "_check": attr.label(
            default = Label("//tests/bazel:binary_info_check.py"),
            allow_single_file = True,
            doc = "The checker the test runs.",
        ),
        "_lockfile": attr.label(
            default = Label("//rules/private:lockfile.py"),
            allow_single_file = True,
            doc = "The rules' lock parser, which the checker reads the lock with.",
        ),
    },
    test = True,
)
