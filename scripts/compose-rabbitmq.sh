#!/bin/sh
# compose.yaml's RabbitMQ: the image's server, and once it is up, the policy that makes
# idp.rpc.unrouted the alternate exchange of idp.rpc, so that a request whose routing key
# no queue is bound to still gets a reply (SPEC 5; docs/messages.md). The same policy
# `idp dev` sets on a local broker (idp/topology.py, set_unrouted_policy).
set -eu
(
    tries=0
    until rabbitmqctl -q await_startup >/dev/null 2>&1; do
        tries=$((tries + 1))
        if [ "$tries" -ge 120 ]; then
            echo "idp: RabbitMQ did not start; policy idp-rpc-unrouted not set" >&2
            exit 1
        fi
        sleep 2
    done
    if rabbitmqctl -q set_policy --apply-to exchanges idp-rpc-unrouted '^idp\.rpc$' \
        '{"alternate-exchange": "idp.rpc.unrouted"}'; then
        echo "idp: policy idp-rpc-unrouted set (idp.rpc's alternate exchange)"
    else
        echo "idp: could not set policy idp-rpc-unrouted; unknown routing keys get no reply" >&2
    fi
) &
exec docker-entrypoint.sh rabbitmq-server "$@"
