#!/usr/bin/env bash
# Vendors the charting library the service's pages draw with into railyard/api/static (no CDN: the pages load
# only the service's own files). Vega-Lite specs are compiled and drawn by vega, vega-lite and vega-embed, their
# published minified builds; vega-interpreter evaluates Vega's expressions without eval, as the pages'
# Content-Security-Policy requires: it is bundled here, with vega-util, into one script that sets
# `vegaInterpreter`. Run it to move to other versions; the files it writes are committed.
set -euo pipefail
VEGA=6.4.0 VEGA_LITE=6.5.0 VEGA_EMBED=7.3.0 VEGA_INTERPRETER=2.3.2 ESBUILD=0.25.0
static="$(cd "$(dirname "$0")/.." && pwd)/railyard/api/static"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund "vega@$VEGA" "vega-lite@$VEGA_LITE" "vega-embed@$VEGA_EMBED" \
    "vega-interpreter@$VEGA_INTERPRETER" "esbuild@$ESBUILD"
cp node_modules/vega/build/vega.min.js node_modules/vega-lite/build/vega-lite.min.js \
    node_modules/vega-embed/build/vega-embed.min.js "$static/"
echo 'export { expressionInterpreter } from "vega-interpreter";' > entry.js
npx esbuild entry.js --bundle --format=iife --global-name=vegaInterpreter --minify --outfile="$static/vega-interpreter.min.js"
cp node_modules/vega/LICENSE "$static/vega-LICENSE.txt"
echo "vega $VEGA, vega-lite $VEGA_LITE, vega-embed $VEGA_EMBED, vega-interpreter $VEGA_INTERPRETER (BSD-3-Clause, University of Washington Interactive Data Lab)" \
    > "$static/vega-VERSIONS.txt"
