"""Public API of the Railyard Bazel rules.

    load("//rules:defs.bzl", "railyard_trainer")

`railyard_trainer` packages one workflow with the trainer runtime; `railyard_binary`
packages the runtime with any other sources (the service: `//:railyard_service`).
`railyard_wheelhouse` is the repository rule that WORKSPACE calls once.
"""

load("//rules/private:pex.bzl", _railyard_binary = "railyard_binary")
load("//rules/private:trainer.bzl", _railyard_trainer = "railyard_trainer", _railyard_trainer_test = "railyard_trainer_test")
load("//rules/private:wheelhouse.bzl", _railyard_wheelhouse = "railyard_wheelhouse")

railyard_binary = _railyard_binary
railyard_trainer = _railyard_trainer
railyard_trainer_test = _railyard_trainer_test
railyard_wheelhouse = _railyard_wheelhouse
