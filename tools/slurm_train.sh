#!/usr/bin/env bash
# bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]   (mmseg's arguments)
# Environment (GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, PYTHON, SRUN): tools/slurm_launch.sh.
# Keep the paper's total batch on fewer GPUs: README, "Fewer GPUs than the paper".
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]" >&2
    exit 2
fi
source "$(dirname "$0")/slurm_launch.sh"
slurm_launch train.py "$@"
