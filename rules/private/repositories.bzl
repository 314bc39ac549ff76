"""Helpers shared by the repository rules: the interpreter, the pip environment, labels as strings."""

# pip settings passed through to every pip the repository rules run; changing one refetches.
PIP_ENVIRON = ["PIP_CACHE_DIR", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"]

def pip_environment(rctx):
    """The PIP_* variables of the client environment that pip should see."""
    return {key: rctx.os.environ[key] for key in PIP_ENVIRON if key in rctx.os.environ}

def absolute_label(label):
    """`//rules/private:wheel.bzl` as a string that means the same from another repository."""
    text = str(label)
    return "@" + text if text.startswith("//") else text

def interpreter(rctx, rule):
    """The `python` attribute's interpreter on PATH; fails naming it when it is missing."""
    python = rctx.which(rctx.attr.python)
    if python == None:
        fail("%s: %s is not on PATH; the binaries are built for Python 3.11" % (rule, rctx.attr.python))
    return python

def run_helper(rctx, rule, command, progress):
    """Runs a helper script; fails with its own one-line message (stderr) when it fails."""
    rctx.report_progress(progress)
    result = rctx.execute(command, environment = pip_environment(rctx), timeout = 3600, quiet = True)
    if result.return_code != 0:
        message = result.stderr.strip() or result.stdout.strip()
        fail(message if message.startswith(rule) else "%s failed:\n%s" % (rule, message))
