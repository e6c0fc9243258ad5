# Sourced by bin/run-dev. `supervise NAME COMMAND...` runs COMMAND and starts it again whenever
# it exits, after a short backoff (1 s, doubling to 30 s; back to 1 s once it ran a minute),
# saying so on stderr. TERM or INT stops the command and the loop. Run it in the background:
# it keeps its state in globals (bash cannot `exit` from a trap in a function with locals).
supervise() {
  _sv_name=$1
  shift
  _sv_stop=0
  _sv_child=""
  _sv_delay=1
  trap '_sv_stop=1; [ -z "$_sv_child" ] || kill -TERM "$_sv_child" 2>/dev/null || true' TERM INT
  while ((_sv_stop == 0)); do
    _sv_started=$SECONDS
    "$@" &
    _sv_child=$!
    if ((_sv_stop)); then # stopped before the trap knew the new command
      kill -TERM "$_sv_child" 2>/dev/null || true
    fi
    _sv_status=0
    wait "$_sv_child" || _sv_status=$?
    if ((_sv_stop)); then
      wait "$_sv_child" 2>/dev/null || true # a signal ends `wait` early; let the command finish
      break
    fi
    if ((SECONDS - _sv_started >= 60)); then
      _sv_delay=1
    fi
    echo "run-dev: $_sv_name exited (status $_sv_status); starting it again in $_sv_delay s" >&2
    sleep "$_sv_delay" &
    _sv_child=$!
    if ((_sv_stop == 0)); then
      wait "$_sv_child" || true
    fi
    _sv_delay=$((_sv_delay * 2 > 30 ? 30 : _sv_delay * 2))
  done
  _sv_child=""
  trap - TERM INT
}
