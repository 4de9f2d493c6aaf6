#!/usr/bin/env bash
# A throw-away multi-node SLURM on one machine, for tests and for trying multi-node jobs
# (sbatch -N 2 ...) without a cluster: every node is a simulated host (its own network
# namespace, host name and mount namespace) running its own slurmd; one slurmctld and one
# munged serve them all. The nodes share the machine's file system, as nodes share a
# cluster's parallel file system: job scripts, configs and outputs need no copying.
#
# usage: scripts/slurm-multi.sh start DIR [--nodes N] [--rate RATE] [--cpus C]
#        scripts/slurm-multi.sh stop|status|env DIR
#   start   N nodes (default 2, 1 to 8; tested with 2 and 4) named dhmKn1 ... dhmKnN on a
#           private bridge 10.232.K.0/24 (K: the first subnet not in use on this machine;
#           node i is 10.232.K.i, slurmctld listens on the bridge's 10.232.K.254). RATE
#           (e.g. 1gbit, 100mbit) shapes every node's link both ways with tc tbf, as
#           scripts/simhosts.sh does; C (default 4) is the CPUs each node offers SLURM
#           (more than the cores, so -n 4 jobs fit on a 2-core machine). Writes
#           DIR/slurm.conf, a munge key, logs and pid files under DIR and waits until every
#           node is idle. Needs root; exits 77 where network namespaces cannot be made.
#   stop    cancels the cluster's jobs, stops exactly the daemons it started (by the PIDs
#           in DIR/*.pid: SIGTERM, SIGKILL after 15 s), ends what still runs inside its
#           namespaces, then deletes the namespaces and links it recorded in DIR/cluster;
#           also cleans up after a failed start; harmless when nothing is up. Logs stay.
#   status  the daemons, the nodes and sinfo; exit 0 if everything is running
#   env     prints the exports that point sbatch, srun, squeue, scontrol at the cluster:
#           eval "$(scripts/slurm-multi.sh env DIR)"; it also tells Open MPI not to pin
#           ranks to cores (each simulated node thinks it owns every core of the machine)
#           and to yield when idle (ranks outnumber the cores)
#
# Inside each node: slurmd, the job's batch script and every task see the node's name as
# their host name, its address on eth0, /etc/hosts naming every node (a bind mount private
# to the node), the cgroup hierarchy remounted (ip netns exec replaces /sys) and a PMIx
# folder of their own (DIR/pmix shows DIR/nodes/NODE/pmix on each node: the nodes share
# /tmp, and srun --mpi=pmix would otherwise mix their client files).
# Environment: SLURM_MULTI_PORT (slurmctld's port, slurmd uses the next one; default a
# free port in 30000-39999).
set -euo pipefail

SKIP=77
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "slurm-multi: error: $*" >&2; exit 1; }
skip() { echo "slurm-multi: skip: $*" >&2; exit $SKIP; }

[ $# -ge 1 ] || { usage >&2; exit 2; }
case $1 in -h | --help) usage; exit 0 ;; esac
[ $# -ge 2 ] || { usage >&2; exit 2; }
cmd=$1 dir_arg=$2
shift 2
nodes=2 rate="" cpus=4
while [ $# -gt 0 ]; do
    case $1 in
        --nodes) nodes=${2:-}; shift 2 || die "--nodes N" ;;
        --rate) rate=${2:-}; shift 2 || die "--rate RATE" ;;
        --cpus) cpus=${2:-}; shift 2 || die "--cpus C" ;;
        *) usage >&2; exit 2 ;;
    esac
done
PATH=$PATH:/usr/sbin

main_dir() {
    [ "$cmd" = start ] && mkdir -p "$1"
    if [ ! -d "$1" ]; then
        [ "$cmd" = stop ] && exit 0
        die "no cluster folder $1"
    fi
    dir=$(cd "$1" && pwd)
    conf=$dir/slurm.conf
    state=$dir/cluster
    export SLURM_CONF=$conf
}

record() { echo "$*" >> "$state"; }
get() { awk -v k="$1" '$1 == k { print $2; exit }' "$state" 2> /dev/null; }

# pid_of NAME: the PID in DIR/NAME.pid if that process is alive, else nothing
pid_of() {
    local pid
    pid=$(cat "$dir/$1.pid" 2> /dev/null) || return 0
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2> /dev/null && echo "$pid"
    return 0
}

# port_free PORT: nothing listens on 127.0.0.1:PORT
port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

# burst_for RATE: tbf bucket in bytes (as simhosts.sh: 0.5 ms of traffic, at least 64 KiB)
burst_for() {
    local r=$1 n unit
    n=${r%%[a-zA-Z]*}
    unit=${r#"$n"}
    [[ $n =~ ^[0-9]+$ ]] || die "--rate $r: use e.g. 1gbit, 100mbit, 500kbit"
    case $unit in
        gbit) n=$((n * 1000000000)) ;; mbit) n=$((n * 1000000)) ;;
        kbit) n=$((n * 1000)) ;; bit | "") ;; *) die "--rate $r: use e.g. 1gbit, 100mbit, 500kbit" ;;
    esac
    local b=$((n / 8 / 2000))
    echo $((b > 65536 ? b : 65536))
}

# used_octets: third octets K of every 10.232.K.* address on this machine, in the root
# namespace and in every network namespace (other clusters, other users)
used_octets() {
    local ns
    { ip -4 -o addr show 2> /dev/null
      for ns in $(ip netns list 2> /dev/null | awk '{ print $1 }'); do
          ip netns exec "$ns" ip -4 -o addr show 2> /dev/null
      done; } | grep -o 'inet 10\.232\.[0-9]*\.' | cut -d. -f3 | sort -u
}

# claim_subnet: K of a free 10.232.K.0/24 whose bridge dhmKbr this call could create (the
# bridge's name is the lock between clusters starting at the same time)
claim_subnet() {
    local used k
    used=$(used_octets)
    for k in $(seq 0 249); do
        grep -qx "$k" <<< "$used" && continue
        if ip link add "dhm${k}br" type bridge forward_delay 0 2> /dev/null; then
            echo "$k"
            return
        fi
    done
    die "no free 10.232.K.0/24 subnet"
}

# make_network K: the bridge's address and one namespace + veth per node, recorded
make_network() {
    local k=$1 i ns veth peer burst=""
    [ -n "$rate" ] && burst=$(burst_for "$rate")
    ip addr add "10.232.$k.254/24" dev "dhm${k}br"
    ip link set "dhm${k}br" up
    for i in $(seq 1 "$nodes"); do
        ns=dhm${k}n$i veth=dhm${k}v$i peer=dhm${k}p$i
        ip netns add "$ns" && record netns "$ns"
        ip link add "$veth" type veth peer name "$peer" && record link "$veth"
        ip link set "$peer" netns "$ns"
        ip link set "$veth" master "dhm${k}br"
        ip link set "$veth" up
        ip netns exec "$ns" ip link set lo up
        ip netns exec "$ns" ip link set "$peer" name eth0
        ip netns exec "$ns" ip addr add "10.232.$k.$i/24" dev eth0
        ip netns exec "$ns" ip link set eth0 up
        if [ -n "$rate" ]; then
            # both directions: the node's egress and the bridge port's egress
            ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 100ms
            tc qdisc add dev "$veth" root tbf rate "$rate" burst "$burst" latency 100ms
        fi
        record node "$ns 10.232.$k.$i"
    done
}

write_config() {
    local k=$1 port mem i
    port=${SLURM_MULTI_PORT:-}
    if [ -z "$port" ]; then
        for _ in $(seq 50); do
            port=$((30000 + RANDOM % 5000 * 2))
            port_free "$port" && port_free $((port + 1)) && break
        done
    fi
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    mem=$(( ${mem:-2000} * 9 / 10 / nodes ))
    mkdir -p "$dir/state" "$dir/spool" "$dir/pmix" "$dir/munge"
    # munged wants every folder above its socket searchable by all, and its key private
    chmod 755 "$dir" "$dir/munge"
    local up=$dir
    while up=$(dirname "$up") && [ "$up" != / ]; do
        [ -n "$(find "$up" -maxdepth 0 -perm -o=x)" ] || die "munged needs $up searchable by all (chmod o+x), or another DIR"
    done
    [ -f "$dir/munge/munge.key" ] || {
        head -c 128 /dev/urandom > "$dir/munge/munge.key"
        chmod 400 "$dir/munge/munge.key"
    }
    {
        echo "127.0.0.1 localhost"
        echo "10.232.$k.254 $(hostname -s)"
        for i in $(seq 1 "$nodes"); do echo "10.232.$k.$i dhm${k}n$i"; done
    } > "$dir/hosts"
    cat > "$conf" << EOF
# written by scripts/slurm-multi.sh: a $nodes-node test cluster on simulated hosts,
# no cgroups, no accounting
ClusterName=downhill-multi
SlurmctldHost=$(hostname -s)(10.232.$k.254)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd-%n.log
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
    for i in $(seq 1 "$nodes"); do
        echo "NodeName=dhm${k}n$i NodeAddr=10.232.$k.$i CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN" >> "$conf"
        mkdir -p "$dir/nodes/dhm${k}n$i/pmix"
    done
    echo "PartitionName=multi Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >> "$conf"
    # srun --mpi=pmix: the PMIx client files under DIR/pmix, which each node sees as its own
    echo "PMIxCliTmpDirBase=$dir/pmix" > "$dir/mpi.conf"
}

# node_setup: shell commands that make a node's mount namespace (made by ip netns exec,
# which also mounted a fresh /sys) look like a host of its own
node_setup() {
    local node=$1 type mnt opts src
    echo "hostname $node"
    echo "mount --bind '$dir/hosts' /etc/hosts"
    echo "mount --bind '$dir/nodes/$node/pmix' '$dir/pmix'"
    # the machine's cgroup mounts, in their order (tmpfs first, then each hierarchy)
    while read -r src mnt type opts _; do
        case $mnt in /sys/fs/cgroup | /sys/fs/cgroup/*) ;; *) continue ;; esac
        case $type in tmpfs | cgroup | cgroup2) ;; *) continue ;; esac
        echo "mkdir -p '$mnt' && mount -t $type -o '$opts' '$src' '$mnt'"
    done < /proc/self/mounts
}

start_node() {
    local node=$1
    ip netns exec "$node" unshare --uts sh -c "$(node_setup "$node")
exec slurmd -f '$conf' -N '$node'" || return 1
}

start() {
    [ "$(id -u)" -eq 0 ] || skip "start needs root (network namespaces; slurmd runs jobs as their user)"
    [[ $nodes =~ ^[0-9]+$ ]] && [ "$nodes" -ge 1 ] && [ "$nodes" -le 8 ] || die "--nodes N: 1 to 8"
    [[ $cpus =~ ^[0-9]+$ ]] && [ "$cpus" -ge 1 ] || die "--cpus C: a positive number"
    for p in munged slurmctld slurmd ip tc unshare; do
        command -v "$p" > /dev/null || die "$p not installed (bash scripts/install-deps.sh --tests)"
    done
    [ -e "$state" ] && die "a cluster is already recorded in $state: $0 stop $dir first"
    local f
    for f in "$dir"/*.pid; do
        [ -e "$f" ] || continue
        [ -z "$(pid_of "$(basename "$f" .pid)")" ] || die "$(basename "$f" .pid) already running from $dir (pid $(cat "$f")); stop it first"
        rm -f "$f"
    done
    local probe=dhm$$probe
    ip netns add "$probe" 2> /dev/null || skip "cannot create network namespaces (ip netns add failed)"
    ip netns del "$probe"
    [ -n "$rate" ] && burst_for "$rate" > /dev/null
    : > "$state"
    # from here on a failure (die, or set -e) removes what start made
    trap 'rc=$?; [ $rc -eq 0 ] || { echo "slurm-multi: start failed; removing what it made" >&2; stop > /dev/null; }; exit $rc' EXIT
    local k
    k=$(claim_subnet)
    record link "dhm${k}br"
    record subnet "10.232.$k.0/24"
    record rate "${rate:-none}"
    make_network "$k"
    write_config "$k"
    munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed" \
        || die "munged did not start, see $dir/munged.log"
    slurmctld -c -f "$conf" || die "slurmctld did not start, see $dir/slurmctld.log"
    local i
    for i in $(seq 1 "$nodes"); do
        start_node "dhm${k}n$i" || die "slurmd on dhm${k}n$i did not start, see $dir/slurmd-dhm${k}n$i.log"
    done
    local idle=0
    for _ in $(seq 150); do
        [ -f "$dir/slurmctld.pid" ] && [ -z "$(pid_of slurmctld)" ] && die "slurmctld ended, see $dir/slurmctld.log"
        idle=$( (sinfo -h -N -t idle -o %N 2> /dev/null || true) | wc -l)
        [ "$idle" -eq "$nodes" ] && break
        sleep 0.2
    done
    [ "$idle" -eq "$nodes" ] || die "$idle of $nodes nodes idle after 30 s, see $dir/slurmctld.log and $dir/slurmd-*.log"
    trap - EXIT
    echo "slurm-multi: $nodes nodes up in $dir: $(sinfo -h -o %N) on 10.232.$k.0/24 (links ${rate:-unshaped})"
    echo "slurm-multi: eval \"\$($0 env $dir)\""
}

# stop_pids NAME...: SIGTERM to each daemon, then wait for all (SIGKILL after 15 s)
stop_pids() {
    local d pid pids=() names=()
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
        echo "slurm-multi: stopped ${names[$i]} (pid ${pids[$i]})"
    done
    return 0
}

stop() {
    local jobs ns
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
    # reverse order of start: the slurmds, slurmctld, munged
    local slurmds=()
    for ns in $(awk '$1 == "node" { print $2 }' "$state" 2> /dev/null); do slurmds+=("slurmd-$ns"); done
    stop_pids "${slurmds[@]}"
    stop_pids slurmctld
    stop_pids munged
    [ -e "$state" ] || return 0
    # what still runs in the nodes (jobs' leftovers: only processes inside our namespaces)
    for ns in $(awk '$1 == "netns" { print $2 }' "$state"); do
        ip netns pids "$ns" 2> /dev/null | xargs -r kill -KILL 2> /dev/null || true
    done
    sleep 0.2
    tac "$state" | while read -r kind name _; do
        case $kind in
            netns) ip netns del "$name" 2> /dev/null || true ;;
            link) ip link del "$name" 2> /dev/null || true ;;
        esac
    done
    rm -f "$state"
    echo "slurm-multi: namespaces and links removed; logs kept in $dir"
}

status() {
    local rc=0 pid ns
    [ -e "$state" ] || { echo "slurm-multi: nothing recorded in $dir"; return 1; }
    for d in munged slurmctld; do
        pid=$(pid_of "$d")
        if [ -n "$pid" ]; then echo "$d: running (pid $pid)"; else echo "$d: not running"; rc=1; fi
    done
    while read -r ns addr; do
        pid=$(pid_of "slurmd-$ns")
        if [ -n "$pid" ]; then echo "slurmd $ns ($addr): running (pid $pid)"; else echo "slurmd $ns ($addr): not running"; rc=1; fi
    done < <(awk '$1 == "node" { print $2, $3 }' "$state")
    echo "links: $(get rate)"
    [ $rc -eq 0 ] && sinfo -N
    return $rc
}

env_exports() {
    echo "export SLURM_CONF=$conf"
    echo "# every simulated node sees all of the machine's cores: do not pin ranks to them"
    echo "export OMPI_MCA_hwloc_base_binding_policy=none"
    echo "# ranks outnumber the cores: let waiting ranks give up the core"
    echo "export OMPI_MCA_mpi_yield_when_idle=1"
}

main_dir "$dir_arg"
case $cmd in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) env_exports ;;
    *) usage >&2; exit 2 ;;
esac
