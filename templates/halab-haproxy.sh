#!/bin/sh
# Starts this load balancer's HAProxy in the background (installed as
# /usr/local/bin/halab-haproxy): by the entrypoint at start, and by
# `docker exec` to heal a killed HAProxy. Its output goes to PID 1's stdout,
# so it reaches the container's log whoever started it; stdin is closed so
# an exec does not wait on it. Nothing restarts HAProxy when it dies:
# keepalived's check must see it gone and give up the VIP.
set -eu
if pidof haproxy >/dev/null; then
    exit 0
fi
haproxy -db -f "/etc/halab/nodes/${HALAB_NODE:?}/haproxy.cfg" \
    </dev/null >/proc/1/fd/1 2>&1 &
