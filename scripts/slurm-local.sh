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

# pid_of NAME: the PID in NAME.pid if that process is alive, else nothing
pid_of() {
    local pid
    pid=$(cat "$dir/$1.pid" 2> /dev/null) || return 0
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2> /dev/null && echo "$pid"
    return 0
}

# port_free PORT: nothing listens on 127.0.0.1:PORT
port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

write_config() {
    local host port cpus mem
    host=$(hostname -s)
    cpus=${SLURM_LOCAL_CPUS:-4}
    port=${SLURM_LOCAL_PORT:-}
    if [ -z "$port" ]; then
        for _ in $(seq 50); do
            port=$((20000 + RANDOM % 5000 * 2))
            port_free "$port" && port_free $((port + 1)) && break
        done
    fi
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    mem=$(( ${mem:-2000} * 9 / 10 ))
    mkdir -p "$dir/state" "$dir/spool" "$dir/pmix" "$dir/munge"
    # munged wants every folder above its socket searchable by all, and its key private
    chmod 755 "$dir" "$dir/munge"
    local up=$dir
    while up=$(dirname "$up") && [ "$up" != / ]; do
        [ -n "$(find "$up" -maxdepth 0 -perm -o=x)" ] || die "munged needs $up searchable by all (chmod o+x), or another SCRATCH_DIR"
    done
    [ -f "$dir/munge/munge.key" ] || {
        head -c 128 /dev/urandom > "$dir/munge/munge.key"
        chmod 400 "$dir/munge/munge.key"
    }
    cat > "$conf" << EOF
# written by scripts/slurm-local.sh: a single-node test cluster, no cgroups, no accounting
ClusterName=downhill-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
ReturnToService=2
JobRequeue=1
MinJobAge=600
KillWait=10
MpiDefault=none
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
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
    munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed" \
        || die "munged did not start, see $dir/munged.log"
    slurmctld -c -f "$conf" || die "slurmctld did not start, see $dir/slurmctld.log"
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
    local jobs pid
    if [ -n "$(pid_of slurmctld)" ]; then
        jobs=$(squeue -h -o %i 2> /dev/null || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            scancel $jobs 2> /dev/null || true
            for _ in $(seq 60); do
                [ -z "$(squeue -h -t PD,R,CG,S,CF -o %i 2> /dev/null || true)" ] && break
                sleep 0.5
            done
        fi
    fi
    # reverse order of start: slurmd, slurmctld, munged
    for d in slurmd slurmctld munged; do
        pid=$(pid_of "$d")
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2> /dev/null || true
        for _ in $(seq 150); do
            kill -0 "$pid" 2> /dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2> /dev/null && kill -KILL "$pid" 2> /dev/null
        echo "slurm-local: stopped $d (pid $pid)"
    done
    return 0
}

status() {
    local rc=0 pid
    for d in "${daemons[@]}"; do
        pid=$(pid_of "$d")
        if [ -n "$pid" ]; then echo "$d: running (pid $pid)"; else echo "$d: not running"; rc=1; fi
    done
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
