#!/usr/bin/env bash
# Make sure the Bazel named in .bazelversion can run: install Debian's bazel-bootstrap where apt is
# available, and give its binary the versioned name that Debian's `bazel` wrapper looks up.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(cat .bazelversion)

if ! command -v bazel >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing Bazel (Debian package bazel-bootstrap)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bazel-bootstrap >/dev/null
  else
    echo "Bazel is not installed. Install Bazelisk (https://github.com/bazelbuild/bazelisk), which reads" \
         ".bazelversion ($want), or Debian's bazel-bootstrap package, then run make again." >&2
    exit 1
  fi
fi

wrapper_dir=$(dirname "$(command -v bazel)")
if [ -x "$wrapper_dir/bazel-4" ] && [ ! -e "$wrapper_dir/bazel-$want" ] && grep -q "bazelversion" "$wrapper_dir/bazel" 2>/dev/null; then
  ln -s bazel-4 "$wrapper_dir/bazel-$want"
fi
