# slurm-common.sh: what the throw-away SLURM fixtures (slurm-local.sh, one node;
# slurm-multi.sh, several simulated nodes) do alike: the fixture folder and its munge key,
# the slurm.conf lines they share, starting munged and slurmctld, cancelling the jobs and
# stopping the daemons by the PIDs in their pid files. Sourced, not run.
# The caller sets `me` (its name in messages), `dir` (the fixture folder, absolute) and
# `conf` (dir/slurm.conf), and defines die MESSAGE (print, exit 1).
# shellcheck shell=bash disable=SC2154  # me, dir, conf: set by the caller

# pid_of NAME: the PID in DIR/NAME.pid if that process is alive, else nothing
pid_of() {
    local pid
    pid=$(cat "$dir/$1.pid" 2> /dev/null) || return 0
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2> /dev/null && echo "$pid"
    return 0
}

# port_free PORT: nothing listens on 127.0.0.1:PORT
port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

# free_port_pair FROM: an even port P in FROM..FROM+9999 with P and P+1 free (slurmctld and
# slurmd); after 50 tries the last one drawn
free_port_pair() {
    local port
    for _ in $(seq 50); do
        port=$(($1 + RANDOM % 5000 * 2))
        port_free "$port" && port_free $((port + 1)) && break
    done
    echo "$port"
}

# node_memory NODES: the MB each of NODES nodes offers: 90 % of the machine's, shared out
node_memory() {
    local mem
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p') || return 1
    echo $(( ${mem:-2000} * 9 / 10 / $1 ))
}

# prepare_dir DIR_NAME: state, spool, pmix and munge folders and a private munge key in
# DIR; DIR_NAME is how the usage calls the folder (named in the error)
prepare_dir() {
    mkdir -p "$dir/state" "$dir/spool" "$dir/pmix" "$dir/munge"
    # munged wants every folder above its socket searchable by all, and its key private
    chmod 755 "$dir" "$dir/munge"
    local up=$dir
    while up=$(dirname "$up") && [ "$up" != / ]; do
        [ -n "$(find "$up" -maxdepth 0 -perm -o=x)" ] || die "munged needs $up searchable by all (chmod o+x), or another $1"
    done
    [ -f "$dir/munge/munge.key" ] || {
        head -c 128 /dev/urandom > "$dir/munge/munge.key"
        chmod 400 "$dir/munge/munge.key"
    }
}

# conf_lines HOST ADDR PORT SLURMD_SUFFIX: the slurm.conf lines both fixtures write, from
# SlurmctldHost to SlurmdParameters. SLURMD_SUFFIX is empty for one slurmd, %n (the node's
# name) for several: each gets its own spool folder, pid file and log.
conf_lines() {
    local n=$4
    cat << EOF
SlurmctldHost=$1($2)
SlurmctldPort=$3
SlurmdPort=$(($3 + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool${n:+/$n}
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd${n:+-$n}.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd${n:+-$n}.log
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
EOF
}

# start_controller: munged with the fixture's key and socket, then slurmctld
start_controller() {
    munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed" \
        || die "munged did not start, see $dir/munged.log"
    slurmctld -c -f "$conf" || die "slurmctld did not start, see $dir/slurmctld.log"
}

# cancel_jobs: scancel every job of the fixture and wait (up to 30 s) until none is left
cancel_jobs() {
    local jobs
    [ -n "$(pid_of slurmctld)" ] || return 0
    jobs=$(squeue -h -o %i 2> /dev/null || true)
    [ -n "$jobs" ] || return 0
    # shellcheck disable=SC2086
    scancel $jobs 2> /dev/null || true
    for _ in $(seq 60); do
        [ -z "$(squeue -h -t PD,R,CG,S,CF -o %i 2> /dev/null || true)" ] && break
        sleep 0.5
    done
    return 0
}

# stop_pids NAME...: SIGTERM to each daemon, then wait for all (SIGKILL after 15 s)
stop_pids() {
    local d i pid pids=() names=()
    for d in "$@"; do
        pid=$(pid_of "$d")
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2> /dev/null || true
        pids+=("$pid") names+=("$d")
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    for _ in $(seq 150); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for i in "${!pids[@]}"; do
        kill -0 "${pids[$i]}" 2> /dev/null && kill -KILL "${pids[$i]}" 2> /dev/null
        echo "$me: stopped ${names[$i]} (pid ${pids[$i]})"
    done
    return 0
}

# daemon_status LABEL NAME: prints "LABEL: running (pid P)" or "LABEL: not running" (then
# returns 1) for the daemon of DIR/NAME.pid
daemon_status() {
    local pid
    pid=$(pid_of "$2")
    if [ -n "$pid" ]; then echo "$1: running (pid $pid)"; else echo "$1: not running"; return 1; fi
}
