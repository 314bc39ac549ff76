"""The `railyard_wheelhouse` repository rule: the hub repository of a lock.

    railyard_wheelhouse(name = "pypi", lock = "//:requirements.lock")
    load("@pypi//:requirements.bzl", "install_deps")
    install_deps()

The hub parses the lock and downloads nothing. Its `requirements.bzl` declares
one repository per pinned package (`@pypi_xgboost_cpu`, wheel_repository.bzl)
and the tools repository `@pypi__tools` (pex and packaging,
tools_repository.bzl); its BUILD file aliases them (`@pypi//:xgboost_cpu`,
`@pypi//:pex_tool`). Bazel fetches a package's repository only when a target
being built needs it, so a build downloads the closure of what it builds.
"""

load("//rules/private:repositories.bzl", "absolute_label", "interpreter", "run_helper")

def _railyard_wheelhouse_impl(rctx):
    python = interpreter(rctx, "railyard_wheelhouse")
    rctx.path(rctx.attr._lockfile)  # re-run when the lock parser changes
    run_helper(rctx, "railyard_wheelhouse", [
        python,
        rctx.path(rctx.attr._helper),
        "--lock",
        rctx.path(rctx.attr.lock),
        "--lock-name",
        rctx.attr.lock.name,
        "--hub",
        rctx.attr.name,
        "--prefix",
        rctx.attr.repo_prefix or rctx.attr.name + "_",
        "--python",
        rctx.attr.python,
        "--wheel-repository-rule",
        absolute_label(rctx.attr._wheel_repository),
        "--tools-repository-rule",
        absolute_label(rctx.attr._tools_repository),
        "--out",
        rctx.path("."),
    ], "reading %s" % rctx.attr.lock.name)

railyard_wheelhouse = repository_rule(
    implementation = _railyard_wheelhouse_impl,
    doc = "The hub repository of a lock: `requirements.bzl` with `install_deps()`, which declares one " +
          "repository per pinned package, and aliases `@<name>//:<project>` to them. Downloads nothing.",
    attrs = {
        "lock": attr.label(
            mandatory = True,
            allow_single_file = True,
            doc = "The lock: NAME==VERSION lines with --hash=sha256 entries, as `pip-compile --generate-hashes` writes it. " +
                  "It must pin pex and packaging, which build the binaries and evaluate markers.",
        ),
        "python": attr.string(
            default = "python3.11",
            doc = "Interpreter on PATH that parses the lock, makes the tools' virtualenv and that the binaries target.",
        ),
        "repo_prefix": attr.string(
            doc = "Prefix of the per-package repositories' names; default `<name>_` (`@pypi_numpy`). The tools " +
                  "repository is `@<prefix>_tools`.",
        ),
        "_helper": attr.label(
            default = Label("//rules/private:wheelhouse.py"),
            allow_single_file = True,
            doc = "Writes requirements.bzl and BUILD.bazel from the lock.",
        ),
        "_lockfile": attr.label(
            default = Label("//rules/private:lockfile.py"),
            allow_single_file = True,
            doc = "The lock parser the helper imports; watched so that a change re-runs the rule.",
        ),
        "_wheel_repository": attr.label(
            default = Label("//rules/private:wheel_repository.bzl"),
            allow_single_file = True,
            doc = "Where requirements.bzl loads `railyard_wheel_repository` from.",
        ),
        "_tools_repository": attr.label(
            default = Label("//rules/private:tools_repository.bzl"),
            allow_single_file = True,
            doc = "Where requirements.bzl loads `railyard_tools_repository` from.",
        ),
    },
)
