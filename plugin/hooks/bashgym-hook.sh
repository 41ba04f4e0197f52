#!/bin/sh
# bashgym's plugin hook: hand the event on stdin to bashgym's hook, whatever PATH Claude Code runs with.
# 1. the interpreter `bashgym hooks install --plugin` recorded in $BASHGYM_HOME/hook-command (fast: python -S);
# 2. `bashgym-hook` on PATH;
# 3. neither: swallow the event, note why in events/errors.log (shown by `bashgym doctor` and
#    `bashgym hooks status`), and exit 0 so the agent never notices.
home="${BASHGYM_HOME:-$HOME/.bashgym}"
pointer="$home/hook-command"
why="bashgym-hook is not on PATH and no interpreter is recorded"
if [ -r "$pointer" ]; then
  { IFS= read -r python; IFS= read -r script; } < "$pointer"
  if [ -x "$python" ] && [ -f "$script" ]; then
    exec "$python" -S "$script"
  fi
  why="$pointer names ${python:-nothing}, which is gone; $why"
fi
if command -v bashgym-hook >/dev/null 2>&1; then
  exec bashgym-hook
fi
cat >/dev/null
mkdir -p "$home/events" 2>/dev/null
printf '%s\tplugin hook: %s; run `bashgym hooks install --plugin` with the bashgym that should capture\n' \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$why" >> "$home/events/errors.log" 2>/dev/null
exit 0
