"""Whether `--stamp` is on, as a target that rules read through a private attribute.

`--stamp` is a command-line option, not a build setting, so a rule cannot read
it directly: `stamp_setting` turns a `config_setting` on it into a provider.
"""

StampSettingInfo = provider(
    doc = "Whether the build was started with `--stamp`.",
    fields = {
        "value": "bool: True when `--stamp` is on.",
    },
)

def _stamp_setting_impl(ctx):
    return [StampSettingInfo(value = ctx.attr.value)]

_stamp_setting = rule(
    implementation = _stamp_setting_impl,
    doc = "Returns `StampSettingInfo` with `value`, which `stamp_setting` selects on `--stamp`.",
    attrs = {
        "value": attr.bool(mandatory = True, doc = "True when `--stamp` is on (a select on a config_setting)."),
    },
)

def stamp_setting(name, **kwargs):
    """`<name>`: a target whose StampSettingInfo says whether `--stamp` is on.

    Args:
      name: target name; `<name>_enabled` is the config_setting it selects on.
      **kwargs: common attributes (visibility).
    """
    native.config_setting(
        name = name + "_enabled",
        values = {"stamp": "1"},
    )
    _stamp_setting(
        name = name,
        value = select({
            ":%s_enabled" % name: True,
            "//conditions:default": False,
        }),
        **kwargs
    )

def is_stamping(ctx):
    """`stamp = 1`: True; `0`: False; `-1`: whether `--stamp` is on (read from `_stamp_flag`)."""
    if ctx.attr.stamp == 1:
        return True
    if ctx.attr.stamp == 0:
        return False
    return ctx.attr._stamp_flag[StampSettingInfo].value
