#!/usr/bin/env bash
# Bazel workspace status: the git commit the trainers are stamped with.
# STABLE_ keys land in bazel-out/stable-status.txt, which stamped actions read.
set -u
if commit=$(git rev-parse HEAD 2>/dev/null); then
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then dirty=true; else dirty=false; fi
  echo "STABLE_GIT_COMMIT ${commit}"
  echo "STABLE_GIT_DIRTY ${dirty}"
fi
