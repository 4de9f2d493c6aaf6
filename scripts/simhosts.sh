#!/usr/bin/env bash
# simhosts.sh: several simulated hosts on one machine, joined by a real TCP network, for
# running downhill's MPI jobs across "nodes" without a cluster.
#
#   scripts/simhosts.sh up N [RATE]        N hosts (network namespaces) on a private bridge;
#                                          RATE (e.g. 1gbit, 100mbit) shapes every link
#                                          with tc tbf in both directions
#   scripts/simhosts.sh run NP -- CMD...   mpirun -np NP CMD across the hosts (ranks placed
#                                          round-robin, one per host in turn)
#   scripts/simhosts.sh down               removes exactly what `up` created (also after a
#                                          failed `up`); harmless when nothing is up
#   scripts/simhosts.sh status             what is up
#
# Each host is a network namespace with a veth pair onto a bridge on 10.231.K.0/24 (K: the
# first third octet not in use on this machine); only the namespaces get addresses
# (.1, .2, ...), the machine's own network is not touched. mpirun runs in host 0; Open MPI
# starts its daemons in the other hosts through a launcher agent (an ssh stand-in:
# `ip netns exec NS unshare --uts sh -c 'hostname H; COMMAND'`). Ranks talk over TCP (btl
# tcp,self,vader: vader only between ranks on the same host). Every created object is
# recorded in $SIMHOSTS_DIR/state as it is made; `down` deletes those, newest first, after
# ending the processes still running in the namespaces. Needs root (ip netns); exits 77
# (skip) when network namespaces are not available.
#
# Environment: SIMHOSTS_DIR (default /tmp/downhill-simhosts): state, agent and hostfile;
# MPIRUN (default mpirun). tc netem (delay) is not available on every kernel: only the
# bandwidth is shaped.
set -euo pipefail

DIR=${SIMHOSTS_DIR:-/tmp/downhill-simhosts}
STATE=$DIR/state
SKIP=77

die() { echo "simhosts.sh: error: $*" >&2; exit 1; }
skip() { echo "simhosts.sh: skip: $*" >&2; exit $SKIP; }
record() { echo "$*" >>"$STATE"; }
get() { awk -v k="$1" '$1 == k { print $2; exit }' "$STATE"; }

# burst_for RATE: tbf bucket size in bytes: 0.5 ms of traffic, at least 64 KiB (a whole
# GSO packet; smaller buckets made veth+tbf stall for timer ticks of 4 ms). So up to
# 64 KiB can pass at memory speed when the bucket is full: shaping acts on larger messages.
burst_for() {
    local r=$1 n unit
    n=${r%%[a-zA-Z]*}; unit=${r#"$n"}
    case $unit in
        gbit) n=$((n * 1000000000)) ;; mbit) n=$((n * 1000000)) ;;
        kbit) n=$((n * 1000)) ;; bit | "") ;; *) die "RATE $r: use e.g. 1gbit, 100mbit, 500kbit" ;;
    esac
    local b=$((n / 8 / 2000))
    echo $((b > 65536 ? b : 65536))
}

# free_octet: the first K such that no address in 10.231.K.0/24 exists on this machine,
# in the root namespace or in any network namespace (other instances, other users).
free_octet() {
    local used ns
    used=$( { ip -4 -o addr show 2>/dev/null
              for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
                  ip netns exec "$ns" ip -4 -o addr show 2>/dev/null
              done; } | grep -o 'inet 10\.231\.[0-9]*\.' | cut -d. -f3 | sort -u)
    local k
    for k in $(seq 0 249); do
        grep -qx "$k" <<<"$used" || { echo "$k"; return; }
    done
    die "no free 10.231.K.0/24 subnet"
}

cmd_up() {
    local n=${1:-}; local rate=${2:-}
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 32 ] || die "up N [RATE]: N from 1 to 32"
    [ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
    command -v ip >/dev/null || skip "iproute2 (ip) not installed: scripts/install-deps.sh --tests"
    [ -e "$STATE" ] && die "already up ($STATE); run: $0 down"
    local tag=$(( $$ % 100000 ))
    local probe=dh${tag}probe
    ip netns add "$probe" 2>/dev/null ||
        skip "cannot create network namespaces (ip netns add failed: no permission?)"
    ip netns del "$probe"
    local octet; octet=$(free_octet)
    local subnet=10.231.$octet.0/24 br=dh${tag}br
    mkdir -p "$DIR"
    : >"$STATE"
    record tag "$tag"; record subnet "$subnet"; record hosts "$n"; record rate "${rate:-none}"
    trap 'echo "simhosts.sh: up failed; removing what it created" >&2; cmd_down' ERR
    ip link add "$br" type bridge forward_delay 0 && record link "$br"
    ip link set "$br" up
    local burst=""; [ -n "$rate" ] && burst=$(burst_for "$rate")
    local hostfile=$DIR/hostfile; : >"$hostfile"
    for i in $(seq 0 $((n - 1))); do
        local ns=dh${tag}_h$i host=dh${tag}h$i veth=dh${tag}v$i peer=dh${tag}p$i
        ip netns add "$ns" && record netns "$ns"
        ip link add "$veth" type veth peer name "$peer" && record link "$veth"
        ip link set "$peer" netns "$ns"
        ip link set "$veth" master "$br"
        ip link set "$veth" up
        ip netns exec "$ns" ip link set lo up
        ip netns exec "$ns" ip link set "$peer" name eth0
        ip netns exec "$ns" ip addr add "10.231.$octet.$((i + 1))/24" dev eth0
        ip netns exec "$ns" ip link set eth0 up
        if [ -n "$rate" ]; then
            # Shape both directions: the namespace's egress and the bridge port's egress.
            ip netns exec "$ns" \
                tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 100ms
            tc qdisc add dev "$veth" root tbf rate "$rate" burst "$burst" latency 100ms
        fi
        record host "$host $ns"
        echo "$host slots=$(nproc)" >>"$hostfile"
    done
    # The launcher agent: called like ssh (options..., host, command words).
    cat >"$DIR/agent" <<EOF
#!/bin/sh
# Open MPI launcher agent for simhosts.sh: runs a command in a simulated host.
while [ \$# -gt 0 ] && [ "\${1#-}" != "\$1" ]; do shift; done
host=\$1; shift
case \$host in
$(for i in $(seq 0 $((n - 1))); do echo "    dh${tag}h$i) ns=dh${tag}_h$i ;;"; done)
    *) echo "simhosts agent: unknown host \$host" >&2; exit 255 ;;
esac
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$host; \$*"
EOF
    chmod +x "$DIR/agent"
    trap - ERR
    echo "simhosts: $n hosts up on $subnet (rate ${rate:-unshaped}); hostfile $hostfile"
}

cmd_run() {
    [ -e "$STATE" ] || die "nothing is up: $0 up N [RATE] first"
    local np=${1:-}; shift || true
    [[ $np =~ ^[0-9]+$ ]] && [ "$np" -ge 1 ] || die "run NP -- COMMAND..."
    [ "${1:-}" = "--" ] && shift
    [ $# -ge 1 ] || die "run NP -- COMMAND..."
    local tag subnet; tag=$(get tag); subnet=$(get subnet)
    local yield=()
    [ "$np" -gt "$(nproc)" ] && yield=(--mca mpi_yield_when_idle 1)
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    # mpirun itself runs in host 0 (so the machine's own network needs no address).
    ip netns exec "dh${tag}_h0" unshare --uts sh -c 'hostname "$0"; exec "$@"' "dh${tag}h0" \
        "${MPIRUN:-mpirun}" -np "$np" --hostfile "$DIR/hostfile" --map-by node --oversubscribe \
        --bind-to none --mca plm_rsh_agent "$DIR/agent" --mca plm_rsh_no_tree_spawn 1 \
        --mca btl tcp,self,vader --mca btl_tcp_if_include "$subnet" \
        --mca oob_tcp_if_include "$subnet" "${yield[@]}" "$@"
}

cmd_down() {
    [ -e "$STATE" ] || return 0
    local ns
    # End what still runs in our namespaces (only processes inside namespaces we made).
    for ns in $(awk '$1 == "netns" { print $2 }' "$STATE"); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    done
    # Delete recorded objects, newest first.
    tac "$STATE" | while read -r kind name _; do
        case $kind in
            netns) ip netns del "$name" 2>/dev/null || true ;;
            link) ip link del "$name" 2>/dev/null || true ;;
        esac
    done
    rm -f "$STATE" "$DIR/agent" "$DIR/hostfile"
    rmdir "$DIR" 2>/dev/null || true
}

cmd_status() {
    [ -e "$STATE" ] || { echo "simhosts: nothing up"; return 0; }
    cat "$STATE"
}

case ${1:-} in
    up) shift; cmd_up "$@" ;;
    run) shift; cmd_run "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
