# Sourced by tools/slurm_train.sh and tools/slurm_test.sh: slurm_launch TOOL PARTITION JOB_NAME [TOOL args...]
# runs tools/TOOL under srun, one task per GPU, with mmengine's slurm launcher. Environment: GPUS (total,
# default 4), GPUS_PER_NODE (default min(GPUS, 8)), CPUS_PER_TASK (default 5), SRUN_ARGS (extra srun flags,
# e.g. "--quotatype=auto"), PYTHON (default python), SRUN (default srun; SRUN="echo srun" prints the command
# instead of submitting it).
slurm_launch() {
    local tool=$1 partition=$2 job_name=$3
    shift 3
    local gpus=${GPUS:-4}
    local per_node=${GPUS_PER_NODE:-$((gpus < 8 ? gpus : 8))}
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    # shellcheck disable=SC2086  # SRUN and SRUN_ARGS are word lists on purpose
    PYTHONPATH="$root":${PYTHONPATH:-} \
    ${SRUN:-srun} -p "$partition" \
        --job-name="$job_name" \
        --gres=gpu:"$per_node" \
        --ntasks="$gpus" \
        --ntasks-per-node="$per_node" \
        --cpus-per-task="${CPUS_PER_TASK:-5}" \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS:-} \
        "${PYTHON:-python}" -u "$root/tools/$tool" "$@" --launcher slurm
}
