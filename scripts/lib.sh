# Helpers for the demo and test scripts: a scratch directory, free ports, background services
# and the tools' install that are always stopped, and waiting for a condition with a deadline.

# The script's scratch directory, removed on exit.
scratch=$(mktemp -d)

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
# On exit, whatever happens: stop what was started, then remove the scratch directory. A second
# Ctrl-C does not cut that short.
cleanup() {
  trap '' INT TERM
  stop_installing
  stop_all
  rm -rf "$scratch"
}
trap cleanup EXIT
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
# on the CPU. install_tools_in_background starts scripts/install-tools: the Temporal CLI's path
# goes to $scratch/temporal-path, what it says to $scratch/install.log. tools_ready waits for
# it, and shows the log and fails if it failed. cleanup stops an install still under way.
installing=
install_tools_in_background() {
  scripts/install-tools >"$scratch/temporal-path" 2>"$scratch/install.log" &
  installing=$!
}
tools_ready() {
  if ! wait "$installing"; then
    installing=
    cat "$scratch/install.log" >&2
    echo "scripts/install-tools failed" >&2
    return 1
  fi
  installing=
}
stop_installing() {
  [ -z "$installing" ] || kill "$installing" 2>/dev/null || true
}
