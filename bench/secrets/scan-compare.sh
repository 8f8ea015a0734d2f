#!/bin/sh
# Recall/precision of `arcane scan` vs detect-secrets on the generated corpus.
#   bench/secrets/scan-compare.sh [ARCANE_BIN]
# Needs python3 and detect-secrets (pip install detect-secrets).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-${CARGO_TARGET_DIR:-$here/../../target}/release/arcane}
corpus=$here/corpus/generated
rm -rf "$corpus"
python3 "$here/gen_corpus.py" "$corpus"
python3 "$here/compare.py" "$bin" "$corpus"
