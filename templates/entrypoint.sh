#!/bin/sh
# halab entrypoint: one image, two roles (HALAB_ROLE=node|proxy).
set -eu

role="${HALAB_ROLE:-}"
case "$role" in
node)
    node="${HALAB_NODE:-}"
    dir="/etc/halab/nodes/$node"
    if [ -z "$node" ] || [ ! -f "$dir/keepalived.conf" ]; then
        echo "halab: HALAB_NODE='$node' is not a node of this lab (known: $(ls /etc/halab/nodes | tr '\n' ' '))" >&2
        exit 2
    fi
    # After SIGKILL keepalived leaves its pid files behind and refuses to start
    # again in this container ("already running"); nothing else runs here yet.
    rm -f /run/keepalived.pid /run/vrrp.pid /run/checkers.pid /run/bfd.pid /run/nginx.pid
    mkdir -p /etc/keepalived /var/www/html
    ln -sf "$dir/keepalived.conf" /etc/keepalived/keepalived.conf
    # Debian's default site serves /var/www/html and tries index.html first.
    ln -sf "$dir/index.html" /var/www/html/index.html
    nginx
    # keepalived becomes PID 1: `docker stop` sends it SIGTERM, and it then
    # sends a priority-0 advert so that a backup takes over at once.
    exec keepalived --dont-fork --log-console --log-detail -f /etc/keepalived/keepalived.conf
    ;;
proxy)
    exec haproxy -W -db -f /etc/halab/haproxy.cfg
    ;;
*)
    echo "halab: HALAB_ROLE must be 'node' or 'proxy', not '$role'" >&2
    exit 2
    ;;
esac
