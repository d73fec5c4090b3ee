# Helpers for the demo and test scripts: free ports, background services that are always
# stopped, and waiting for a condition with a deadline.

# A free TCP port on localhost.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Started background processes, stopped on exit whatever happens.
pids=()
stop_all() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap stop_all EXIT
# Ctrl-C or a TERM ends the script, through its EXIT trap, rather than only the step running.
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for SECONDS DESCRIPTION COMMAND...: retries COMMAND until it succeeds or time runs out.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local end=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$end" ]; then
      echo "timed out after ${seconds}s waiting for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}

# The tools install in the background while cargo builds: one waits on the network, the other
# on the CPU. install_tools_in_background DIR starts scripts/install-tools, its answer (the
# Temporal CLI's path) going to DIR/temporal-path and what it says to DIR/install.log.
# tools_ready DIR waits for it, and shows the log and fails if it failed.
# stop_installing, for an exit trap, stops an install still under way.
installing=
install_tools_in_background() {
  scripts/install-tools >"$1/temporal-path" 2>"$1/install.log" &
  installing=$!
}
tools_ready() {
  if ! wait "$installing"; then
    installing=
    cat "$1/install.log" >&2
    echo "scripts/install-tools failed" >&2
    return 1
  fi
  installing=
}
stop_installing() {
  [ -z "$installing" ] || kill "$installing" 2>/dev/null || true
}
