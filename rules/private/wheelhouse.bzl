"""The `railyard_wheelhouse` repository rule: requirements.lock → verified local wheels + pinned pex.

Fetching is the only step that touches the network. Build actions read the
wheels this rule downloaded and verified, and run the pex it installed.
"""

def _railyard_wheelhouse_impl(rctx):
    python = rctx.which(rctx.attr.python)
    rctx.path(rctx.attr._lockfile)  # re-fetch when the lock parser changes
    if python == None:
        fail("railyard_wheelhouse: %s is not on PATH; the trainers are built for Python 3.11" % rctx.attr.python)
    rctx.report_progress("downloading and verifying the wheels in requirements.lock")
    environment = {}
    cache = rctx.os.environ.get("PIP_CACHE_DIR")
    if cache:
        environment["PIP_CACHE_DIR"] = cache
    result = rctx.execute(
        [
            python,
            rctx.path(rctx.attr._helper),
            "--lock",
            rctx.path(rctx.attr.lock),
            "--out",
            rctx.path("."),
        ],
        environment = environment,
        timeout = 3600,
        quiet = True,
    )
    if result.return_code != 0:
        fail("railyard_wheelhouse failed:\n" + result.stderr)

railyard_wheelhouse = repository_rule(
    implementation = _railyard_wheelhouse_impl,
    doc = "Downloads every wheel pinned in `lock`, checks each against the lock's sha256 hashes, " +
          "installs the pinned pex, and generates one `railyard_wheel` target per package.",
    attrs = {
        "lock": attr.label(mandatory = True, allow_single_file = True, doc = "requirements.lock: NAME==VERSION lines with --hash=sha256 entries."),
        "python": attr.string(default = "python3.11", doc = "Interpreter that runs pex and that the trainers target."),
        "_helper": attr.label(default = Label("//rules/private:wheelhouse.py"), allow_single_file = True),
        "_lockfile": attr.label(default = Label("//rules/private:lockfile.py"), allow_single_file = True),
    },
    environ = ["PIP_CACHE_DIR", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"],
)
