#!/usr/bin/env bash
# A Parley fleet on one machine: three signaling nodes and two relays on a
# shared PostgreSQL and Redis (README.md, "Running a fleet").
#
#   scripts/fleet.sh start    build, then start the relays and the nodes
#   scripts/fleet.sh status   /readyz of every process
#   scripts/fleet.sh stop     SIGTERM to every process (they drain)
#
# PARLEY_DATABASE_URL and PARLEY_REDIS_URL say where PostgreSQL and Redis
# are (defaults: local, database "parley", created when missing).
# Secrets shared by every process are generated once into $FLEET_DIR/env.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${FLEET_DIR:-fleet-data}
DB=${PARLEY_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/parley?sslmode=disable}
REDIS=${PARLEY_REDIS_URL:-redis://127.0.0.1:6379/0}
read -r -a NODES <<<"${FLEET_SIGNALING_PORTS:-8081 8082 8083}"
read -r -a RELAYS <<<"${FLEET_RELAY_PORTS:-8091 8092}"
# What browsers use: in production a load balancer in front of the nodes
# (WebSocket upgrades passed through); here the first node.
PUBLIC=${PARLEY_PUBLIC_URL:-http://127.0.0.1:${NODES[0]}}

signaling_urls() {
	local urls=() p
	for p in "${NODES[@]}"; do urls+=("http://127.0.0.1:$p"); done
	local IFS=,
	echo "${urls[*]}"
}

ready() { curl -fs -o /dev/null --max-time 2 "$1/readyz"; }

wait_ready() {
	for _ in $(seq 1 120); do
		ready "$1" && return 0
		sleep 0.5
	done
	echo "$1 is not ready; see $DIR/*.log" >&2
	return 1
}

secrets() {
	mkdir -p "$DIR"
	if [ ! -f "$DIR/env" ]; then
		umask 077
		{
			echo "PARLEY_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
			echo "PARLEY_ENCRYPTION_KEYS=k1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
			echo "PARLEY_RELAY_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
		} >"$DIR/env"
		echo "generated shared secrets in $DIR/env (back it up: the encryption keys are in it)"
	fi
	set -a
	# shellcheck disable=SC1091
	. "$DIR/env"
	set +a
}

launch() { # name, binary, env...
	local name=$1 bin=$2
	shift 2
	env "$@" nohup "$bin" >>"$DIR/$name.log" 2>&1 &
	echo $! >"$DIR/$name.pid"
}

start() {
	secrets
	if command -v psql >/dev/null && ! psql "$DB" -Atc 'select 1' >/dev/null 2>&1; then
		createdb -h 127.0.0.1 -U postgres parley 2>/dev/null || true
	fi
	go build -o bin/signaling ./signaling
	go build -o bin/relay ./relay
	local i=0 p
	for p in "${NODES[@]}"; do
		i=$((i + 1))
		launch "signaling$i" bin/signaling PARLEY_ADDR="127.0.0.1:$p" PARLEY_PUBLIC_URL="$PUBLIC" \
			PARLEY_DATA_DIR="$DIR/signaling$i" PARLEY_DATABASE_URL="$DB" PARLEY_REDIS_URL="$REDIS"
		# The nodes may start together (they take turns through a lock in
		# Redis to migrate); the first one's log shows the first-run password.
		if [ $i -eq 1 ]; then wait_ready "http://127.0.0.1:$p"; fi
	done
	for p in "${NODES[@]:1}"; do wait_ready "http://127.0.0.1:$p"; done
	i=0
	for p in "${RELAYS[@]}"; do
		i=$((i + 1))
		# With the store and the bus a relay commits and delivers its data
		# channels' chat itself (PARLEY_ENCRYPTION_KEYS comes from the env file).
		launch "relay$i" bin/relay PARLEY_RELAY_ID="relay$i" PARLEY_RELAY_ADDR="127.0.0.1:$p" \
			PARLEY_RELAY_SIGNALING_URLS="$(signaling_urls)" PARLEY_DATABASE_URL="$DB" PARLEY_REDIS_URL="$REDIS"
	done
	for p in "${RELAYS[@]}"; do wait_ready "http://127.0.0.1:$p"; done
	status
	grep -h "sign in as" "$DIR"/signaling*.log 2>/dev/null | tail -n1 || true
	echo "agent dashboard: $PUBLIC/app/   demo page: $PUBLIC/demo   logs: $DIR/*.log"
}

status() {
	local p
	for p in "${NODES[@]}" "${RELAYS[@]}"; do
		if ready "http://127.0.0.1:$p"; then echo "127.0.0.1:$p ready"; else echo "127.0.0.1:$p NOT ready"; fi
	done
}

stop() {
	local f pid
	for f in "$DIR"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		rm -f "$f"
	done
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*)
	echo "usage: $0 start|status|stop" >&2
	exit 2
	;;
esac
