#!/usr/bin/env bash
# The GPU check: every real VOC config (one per method) with randomly initialised weights of its real
# architecture, 20 training iterations at the config's own crop and per-GPU batch as at its last iteration (every
# loss term on), AMP off and on, plus one `--tta` inference; one line per config and AMP setting with seconds per
# iteration, peak GPU memory, whether the losses stayed finite and how often each encoder ran per step.
#
#     bash tools/analysis_tools/gpu_check.sh [CONFIG ...]        # default: the configs listed below
#
# Without CUDA it prints one line saying it skipped and exits 0 (GPU_CHECK_DEVICE=cpu runs it on the CPU anyway,
# as the tests do with a toy config). ITERS (default 20) and PER_CONFIG_TIMEOUT (seconds, default 40) are
# read from the environment; the whole default list is sized for under 8 minutes on one H100 (six configs x two
# AMP settings, each capped at PER_CONFIG_TIMEOUT: 12 x 40 s at most). Paste the lines into the README's GPU table.
set -u
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
ITERS=${ITERS:-20}
TIMEOUT=${PER_CONFIG_TIMEOUT:-40}
DEVICE=${GPU_CHECK_DEVICE:-}
if [ -z "$DEVICE" ]; then
    "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)' 2>/tmp/gpu_check_err.$$
    rc=$?
    if [ $rc -eq 3 ]; then
        rm -f /tmp/gpu_check_err.$$
        echo "gpu_check: no CUDA device on this machine: skipped (nothing run)"
        exit 0
    elif [ $rc -ne 0 ]; then  # a broken environment is not "no GPU"
        echo "gpu_check: cannot import torch with $PY: $(tail -n 1 /tmp/gpu_check_err.$$)"
        rm -f /tmp/gpu_check_err.$$
        exit 1
    fi
    DEVICE=cuda
fi
if [ $# -gt 0 ]; then
    CONFIGS=("$@")
else
    CONFIGS=(
        configs/cam/cam_r50-d16_1xb16-3.3k_voc12aug-512x512.py
        configs/clims/clims_r50-d16_clip-vitb16_1xb16-6.6k_voc12aug-512x512.py
        configs/afa/afa_mit-b1_2xb2-20k_voc12aug-512x512.py
        configs/eca/eca_mit-b1_dino-vits8_2xb4-18k_voc12aug-512x512.py
        configs/weakclip/weakclip_vit-b16_8xb2-20k_voc12aug-512x512.py
        configs/dalnet/dalnet_vit-b16_clip_1xb4-20k_voc12aug-448x448.py
    )
fi
"$PY" -c 'import torch; print("gpu_check:", torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA")'
status=0
for cfg in "${CONFIGS[@]}"; do
    for amp in "" "--amp"; do
        tta=""
        [ -z "$amp" ] && tta="--tta"  # one TTA inference per config, in full precision
        timeout "$TIMEOUT" "$PY" tools/analysis_tools/benchmark.py "$cfg" --from-config --random-weights \
            --iters "$ITERS" --warmup 2 --device "$DEVICE" $amp $tta --oneline 2>/tmp/gpu_check_err.$$
        rc=$?
        if [ $rc -ne 0 ]; then
            status=1
            reason="exit $rc"
            [ $rc -eq 124 ] && reason="over ${TIMEOUT} s"
            echo "$(basename "$cfg"): ${amp:-amp off}: FAILED ($reason): $(tail -n 1 /tmp/gpu_check_err.$$)"
        fi
    done
done
rm -f /tmp/gpu_check_err.$$
exit $status
