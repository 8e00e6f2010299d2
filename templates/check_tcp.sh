#!/bin/sh
# Healthy when the served port accepts a connection (layer 4): bash's
# /dev/tcp, as the image has no netcat.
exec timeout 1 bash -c ': </dev/tcp/127.0.0.1/{{ check.port }}'
