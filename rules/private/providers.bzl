"""`RailyardBinaryInfo`: what a `railyard_binary` or `railyard_trainer` target built."""

RailyardBinaryInfo = provider(
    doc = "A railyard `.pex` binary and what went into it.",
    fields = {
        "pex": "File: the `.pex` binary.",
        "sha256": "File: the binary's sha256, 64 hex digits and a newline.",
        "requirements": "depset of str: `project==version` of every locked wheel in the binary (the closure).",
        "srcs": "depset of File: the binary's own sources (the workflow's for a trainer), without the runtime.",
        "entry_point": "str: the `module:function` the binary runs.",
        "target": "str: the label of the target that built it, as stamped into the binary.",
    },
)
