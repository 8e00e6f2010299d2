#!/bin/sh
# keepalived runs the resolved binary of a bare `pidof` (killall5 on Debian),
# which never succeeds; through a shell, pidof is itself. HAProxy is not
# restarted when it dies: its absence makes this load balancer give up the VIP.
pidof haproxy >/dev/null
