#!/bin/sh
# keepalived runs the resolved binary of a bare `pidof` (killall5 on Debian),
# which never succeeds; through a shell, pidof is itself.
pidof nginx >/dev/null
