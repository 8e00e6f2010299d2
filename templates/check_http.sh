#!/bin/sh
# Healthy when this node's nginx answers its page.
curl -fsS -m 1 -o /dev/null http://127.0.0.1/
