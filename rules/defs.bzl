"""Public API of the Railyard Bazel rules.

    load("//rules:defs.bzl", "railyard_trainer")

`railyard_wheelhouse` is the repository rule that WORKSPACE calls once.
"""

load("//rules/private:trainer.bzl", _railyard_trainer = "railyard_trainer", _railyard_trainer_test = "railyard_trainer_test")
load("//rules/private:wheelhouse.bzl", _railyard_wheelhouse = "railyard_wheelhouse")

railyard_trainer = _railyard_trainer
railyard_trainer_test = _railyard_trainer_test
railyard_wheelhouse = _railyard_wheelhouse
