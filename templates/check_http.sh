#!/bin/sh
# Healthy when this node's {% if lab.lb_pair %}HAProxy answers through to a web server{% else %}nginx answers its page{% endif %}.
curl -fsS -m 1 -o /dev/null http://127.0.0.1{% if check.port != 80 %}:{{ check.port }}{% endif %}/
