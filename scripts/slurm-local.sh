#!/usr/bin/env bash
# A throw-away single-node SLURM on localhost, for tests and for trying jobs/*.sbatch on a
# laptop: munged, slurmctld and slurmd with every file (config, munge key and socket, state,
# spool, logs, pid files) in one scratch folder. Nothing system-wide is written: munged
# gets its own key and socket, so /etc/munge and /run/munge are left alone.
#
# usage: scripts/slurm-local.sh start|stop|status|env SCRATCH_DIR
#   start   writes SCRATCH_DIR/slurm.conf and a munge key, starts the three daemons,
#           waits until the node is idle (needs root: slurmd runs jobs as their user)
#   stop    cancels the fixture's jobs, then stops exactly the daemons it started, by the
#           PIDs in SCRATCH_DIR/*.pid (SIGTERM, SIGKILL after 15 s)
#   status  prints the daemons' PIDs and sinfo; exit 0 if all three are running
#   env     prints `export SLURM_CONF=...`: eval "$(scripts/slurm-local.sh env DIR)" points
#           sbatch, squeue, scontrol, srun at the fixture
# Environment: SLURM_LOCAL_CPUS (CPUs the node offers, default 4: more than the cores, so
#   -n 4 jobs run on a 2-core machine), SLURM_LOCAL_PORT (slurmctld port, slurmd uses the
#   next one; default: a free port in 20000-29999).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "slurm-local: $*" >&2; exit 1; }

[ $# -ge 1 ] || { usage >&2; exit 2; }
case $1 in -h | --help) usage; exit 0 ;; esac
[ $# -eq 2 ] || { usage >&2; exit 2; }
cmd=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
conf=$dir/slurm.conf
export SLURM_CONF=$conf
daemons=(munged slurmctld slurmd)

me=slurm-local
# shellcheck source=scripts/slurm-common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/slurm-common.sh"

write_config() {
    local host port cpus mem
    host=$(hostname -s)
    cpus=${SLURM_LOCAL_CPUS:-4}
    port=${SLURM_LOCAL_PORT:-$(free_port_pair 20000)}
    mem=$(node_memory 1)
    prepare_dir SCRATCH_DIR
    {
        echo "# written by scripts/slurm-local.sh: a single-node test cluster, no cgroups, no accounting"
        echo "ClusterName=downhill-local"
        conf_lines "$host" 127.0.0.1 "$port" ""
        echo "NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN"
        echo "PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP"
    } > "$conf"
    # srun --mpi=pmix: the PMIx client files of this cluster stay in the scratch folder
    echo "PMIxCliTmpDirBase=$dir/pmix" > "$dir/mpi.conf"
}

start() {
    [ "$(id -u)" -eq 0 ] || die "start needs root (slurmd runs jobs as their submitting user)"
    for d in "${daemons[@]}"; do
        [ -z "$(pid_of "$d")" ] || die "$d already running from $dir (pid $(pid_of "$d")); stop it first"
    done
    for p in munged slurmctld slurmd; do
        command -v "$p" > /dev/null || [ -x "/usr/sbin/$p" ] || die "$p not installed (bash scripts/install-deps.sh --tests)"
    done
    write_config
    PATH=$PATH:/usr/sbin
    start_controller
    slurmd -f "$conf" -N "$(hostname -s)" || die "slurmd did not start, see $dir/slurmd.log"
    local state=""
    for _ in $(seq 100); do
        state=$(sinfo -h -o %T 2> /dev/null || true)
        [ "$state" = idle ] && break
        sleep 0.2
    done
    [ "$state" = idle ] || die "node not idle after 20 s (state '$state'), see $dir/slurmctld.log and $dir/slurmd.log"
    echo "slurm-local: up in $dir (munged $(pid_of munged), slurmctld $(pid_of slurmctld), slurmd $(pid_of slurmd))"
    echo "slurm-local: export SLURM_CONF=$conf"
}

stop() {
    cancel_jobs
    # reverse order of start: slurmd, slurmctld, munged
    stop_pids slurmd
    stop_pids slurmctld
    stop_pids munged
}

status() {
    local rc=0
    for d in "${daemons[@]}"; do daemon_status "$d" "$d" || rc=1; done
    [ $rc -eq 0 ] && sinfo
    return $rc
}

case $cmd in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) echo "export SLURM_CONF=$conf" ;;
    *) usage >&2; exit 2 ;;
esac
