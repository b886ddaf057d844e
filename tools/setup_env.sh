#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment: torch, mmcv 2.1.0 with compiled CPU ops, mmseg, and the
# rest of requirements/. Idempotent: a second run with unchanged requirements does nothing.
#
#   bash tools/setup_env.sh            # environment in ./.venv
#   VENV=/path/to/venv bash tools/setup_env.sh
#
# mmcv has no wheels on PyPI for our torch, so it is built from source once per (python, torch, CUDA) triple and
# the wheel is kept in $MMSEG_WSSS_WHEEL_CACHE (default ~/.cache/mmseg-wsss/wheels), outside the checkout, in a
# folder named after that triple: a clean clone on the same machine reuses it, another torch never does.
# pip's own wheel cache does not key on the torch version, so the mmcv build runs with --no-cache-dir.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
CACHE_ROOT=${MMSEG_WSSS_WHEEL_CACHE:-$HOME/.cache/mmseg-wsss/wheels}
MAX_JOBS=${MAX_JOBS:-$(nproc)}

stamp_of() {
    cat tools/setup_env.sh requirements/*.txt setup.py 2>/dev/null | sha256sum | cut -c1-16
}
STAMP="$VENV/.mmseg_wsss_env"
want=$(stamp_of)
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    echo "[setup_env] environment $VENV is up to date"
    exit 0
fi

log() { echo "[setup_env] $*"; }

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check)

log "build tools"
"${PIP[@]}" -q -r requirements/build.txt

log "torch + torchvision (requirements/torch.txt)"
"${PIP[@]}" -q -r requirements/torch.txt

key=$("$PY" - <<'EOF'
import sys, torch
cuda = torch.version.cuda or 'cpu'
print(f'py{sys.version_info[0]}{sys.version_info[1]}-torch{torch.__version__}-cuda{cuda}'.replace('+', '_'))
EOF
)
MMCV_SPEC=$(grep -E '^mmcv' requirements/mmcv.txt | head -n1)
MMCV_VER=${MMCV_SPEC#mmcv==}
WHEEL_DIR="$CACHE_ROOT/$key"
wheel=$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VER"-*.whl 2>/dev/null | head -n1 || true)

if "$PY" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '$MMCV_VER')" 2>/dev/null; then
    log "mmcv $MMCV_VER with ops already installed"
else
    if [[ -z "$wheel" ]]; then
        log "building $MMCV_SPEC from source for $key (about 15-25 minutes on 2 cores; done once per machine)"
        mkdir -p "$WHEEL_DIR"
        tmp=$(mktemp -d "$WHEEL_DIR/.build.XXXXXX")
        # FORCE_CUDA=0: CPU ops only unless CUDA is visible at build time (mmcv's setup.py decides then).
        MMCV_WITH_OPS=1 MAX_JOBS="$MAX_JOBS" \
            "$PY" -m pip wheel --no-build-isolation --no-deps --no-cache-dir -w "$tmp" "$MMCV_SPEC"
        built=$(ls "$tmp"/mmcv-*.whl)
        mv "$built" "$WHEEL_DIR/"            # atomic within one filesystem: no half-written wheel is ever seen
        rm -rf "$tmp"
        wheel="$WHEEL_DIR/$(basename "$built")"
    else
        log "reusing cached mmcv wheel $wheel"
    fi
    "${PIP[@]}" -q --no-deps "$wheel"
fi

log "runtime and test requirements"
"${PIP[@]}" -q -r requirements/mmcv.txt -r requirements/runtime.txt -r requirements/tests.txt \
    -c requirements/torch.txt -c requirements/build.txt
log "mmseg_wsss (editable)"
"${PIP[@]}" -q --no-deps --no-build-isolation -e .

"$PY" - <<'EOF'
import mmcv, mmcv.ops, mmengine, mmseg, torch, torchvision, open_clip
print(f'[setup_env] torch {torch.__version__}, torchvision {torchvision.__version__}, mmcv {mmcv.__version__}, '
      f'mmengine {mmengine.__version__}, mmseg {mmseg.__version__}, open_clip {open_clip.__version__}')
EOF
echo "$want" > "$STAMP"
log "environment ready: $VENV"
