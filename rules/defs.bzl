"""Public API of the Railyard Bazel rules.

    load("//rules:defs.bzl", "railyard_trainer")

`railyard_trainer` packages one workflow with the trainer runtime; `railyard_binary`
packages the runtime with any other sources (the service: `//:railyard_service`). Both
return `RailyardBinaryInfo`. `railyard_wheelhouse` is the repository rule that WORKSPACE
calls once per lock, followed by the `install_deps()` it generates:

    railyard_wheelhouse(name = "pypi", lock = "//:requirements.lock")
    load("@pypi//:requirements.bzl", "install_deps")
    install_deps()
"""

load("//rules/private:pex.bzl", _railyard_binary = "railyard_binary")
load("//rules/private:providers.bzl", _RailyardBinaryInfo = "RailyardBinaryInfo")
load("//rules/private:trainer.bzl", _railyard_trainer = "railyard_trainer", _railyard_trainer_test = "railyard_trainer_test")
load("//rules/private:wheel.bzl", _WheelInfo = "WheelInfo")
load("//rules/private:wheelhouse.bzl", _railyard_wheelhouse = "railyard_wheelhouse")

RailyardBinaryInfo = _RailyardBinaryInfo
WheelInfo = _WheelInfo
railyard_binary = _railyard_binary
railyard_trainer = _railyard_trainer
railyard_trainer_test = _railyard_trainer_test
railyard_wheelhouse = _railyard_wheelhouse
