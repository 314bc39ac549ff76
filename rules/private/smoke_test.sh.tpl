#!/usr/bin/env bash
# A trainer's smoke test, expanded by railyard_trainer_test: train on freshly generated sample data
# and check the result (rules/private/smoke_test.py).
set -euo pipefail
exec python3.11 %DRIVER% \
  --trainer %TRAINER% \
  --spec %SPEC% \
  --target %TARGET% \
  --data-module %DATA_MODULE% \
  --data-file %DATA_FILE% \
  --data-args %DATA_ARGS% \
  --metric %METRIC% \
  --at-least %AT_LEAST% \
  --params %PARAMS%
