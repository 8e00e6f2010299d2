#!/bin/sh
# halab entrypoint: one image, every role (HALAB_ROLE=node|{% if lab.lb_pair %}web{% else %}proxy{% endif %}|idle).
#
{%- if lab.lb_pair %}
# A node is a small host: this shell stays PID 1, supervises keepalived and
# starts HAProxy (halab-haproxy), which nobody restarts: a dead HAProxy
# fails keepalived's check and the node gives up the VIP. A web server is
# nginx alone.
{%- else %}
# A node is a small host: this shell stays PID 1 and supervises nginx and
# keepalived as two processes, so a scenario can kill either one and the
# container lives on.
{%- endif %} `docker stop` reaches keepalived first: it sends a
# priority-0 advert and a backup takes the VIP over at once.
set -eu

KEEPALIVED_CONF=/etc/keepalived/keepalived.conf

supervise_keepalived() {
    # As a systemd unit with Restart=on-failure and RestartSec=100ms would:
    # a keepalived that crashes (killed, non-zero exit) is started again,
    # so a crash is a bounded event instead of a VIP left on this node's
    # interface for ever; one that was stopped (exit 0 on SIGTERM) is not.
    while :; do
        # After SIGKILL keepalived leaves its pid files behind and refuses
        # to start again, taking them for a live instance.
        rm -f /run/keepalived.pid /run/vrrp.pid /run/checkers.pid /run/bfd.pid
        # Output to PID 1's stdout so it reaches the container's log even
        # when started by `docker exec`; stdin closed so the exec does not
        # wait on it.
        keepalived --dont-fork --log-console --log-detail -f "$KEEPALIVED_CONF" \
            </dev/null >/proc/1/fd/1 2>/proc/1/fd/2 &
        echo $! >/run/halab-keepalived.pid
        rc=0
        wait $! || rc=$?
        if [ "$rc" -eq 0 ]; then
            rm -f /run/halab-supervisor.pid
            exit 0
        fi
        echo "halab: keepalived exited with status $rc; restarting it in 100ms (Restart=on-failure)" >/proc/1/fd/2
        sleep 0.1
    done
}

start_keepalived() {
    # One supervisor at a time: starting keepalived while its supervisor
    # lives would start a second keepalived on the same instance.
    # The pid must still be this script: a pid file can outlive its process
    # (`docker kill` + `docker start`) and the pid be taken by another.
    if [ -f /run/halab-supervisor.pid ] &&
        grep -qs entrypoint "/proc/$(cat /run/halab-supervisor.pid)/cmdline"; then
        return 0
    fi
    supervise_keepalived </dev/null >/dev/null 2>&1 &
    echo $! >/run/halab-supervisor.pid
}

stop_node() {
    pkill -TERM -x keepalived 2>/dev/null || true
    # Let keepalived send its priority-0 advert and drop the VIP.
    i=0
    while pgrep -x keepalived >/dev/null && [ "$i" -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
{%- if lab.lb_pair %}
    pkill -TERM -x haproxy 2>/dev/null || true
{%- else %}
    nginx -s quit 2>/dev/null || true
{%- endif %}
    exit 0
}

role="${HALAB_ROLE:-}"
case "${1:-}:$role" in
start-keepalived:node)
    start_keepalived
    exit 0
    ;;
:node)
    node="${HALAB_NODE:-}"
    dir="/etc/halab/nodes/$node"
    if [ -z "$node" ] || [ ! -f "$dir/keepalived.conf" ]; then
        echo "halab: HALAB_NODE='$node' is not a node of this lab (known: $(ls /etc/halab/nodes | tr '\n' ' '))" >&2
        exit 2
    fi
    # A container started again keeps the files of its last life.
    rm -f /run/nginx.pid /run/halab-supervisor.pid /run/halab-keepalived.pid
{%- if lab.lb_pair %}
    mkdir -p /etc/keepalived
    ln -sf "$dir/keepalived.conf" "$KEEPALIVED_CONF"
{%- else %}
    mkdir -p /etc/keepalived /var/www/html
    ln -sf "$dir/keepalived.conf" "$KEEPALIVED_CONF"
    # Debian's default site serves /var/www/html and tries index.html first.
    ln -sf "$dir/index.html" /var/www/html/index.html
{%- endif %}
    # The user's own files for this node (`nodes[].files` of the lab).
    if [ -d "$dir/root" ]; then
        cp -R "$dir/root/." /
    fi
    trap stop_node TERM INT
{%- if lab.lb_pair %}
    /usr/local/bin/halab-haproxy
{%- else %}
    nginx
{%- endif %}
    start_keepalived
    # Wake up now and then so the trap runs promptly and exited children
    # (a killed nginx) are reaped.
    while :; do
        sleep 0.2 &
        wait $! || true
    done
    ;;
{%- if lab.lb_pair %}
:web)
    node="${HALAB_NODE:-}"
    dir="/etc/halab/web/$node"
    if [ -z "$node" ] || [ ! -f "$dir/index.html" ]; then
        echo "halab: HALAB_NODE='$node' is not a web server of this lab (known: $(ls /etc/halab/web | tr '\n' ' '))" >&2
        exit 2
    fi
    rm -f /run/nginx.pid
    mkdir -p /var/www/html
    ln -sf "$dir/index.html" /var/www/html/index.html
{%- if backends.port != 80 %}
    sed -i 's/\b80 default_server/{{ backends.port }} default_server/' /etc/nginx/sites-enabled/default
{%- endif %}
    # nginx is the container: stopping or killing it stops the web server.
    exec nginx -g 'daemon off;'
    ;;
{%- else %}
:proxy)
    exec haproxy -W -db -f /etc/halab/haproxy.cfg
    ;;
{%- endif %}
:idle)
    # `halab validate` runs keepalived -t, haproxy -c and nginx -t in here.
    exec sleep infinity
    ;;
*)
    echo "halab: usage: HALAB_ROLE=node|{% if lab.lb_pair %}web{% else %}proxy{% endif %}|idle entrypoint.sh [start-keepalived]; got role '$role', argument '${1:-}'" >&2
    exit 2
    ;;
esac
