#!/usr/bin/env bash
# compat.sh — check keepalived.conf files with keepalived and with lvsctl,
# side by side: one line per file, then a summary.
#
#   scripts/compat.sh [-i CONFIG_ID] [DIR|FILE...]
#
# Default: keepalived 2.2.7's own samples
# (internal/config/testdata/keepalived-samples). keepalived -t checks a
# configuration without running it (scripts/deps.sh installs keepalived);
# lvsctl config check is built from this tree. keepalived's exit code is
# non-zero for any problem it logs, host-dependent ones included (a missing
# interface), so "keepalived: rc=N" does not always mean the file is wrong.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
id=""
if [ "${1:-}" = "-i" ]; then
  id=$2
  shift 2
fi
[ $# -eq 0 ] && set -- "$here/internal/config/testdata/keepalived-samples"

if ! command -v keepalived >/dev/null; then
  echo "compat: keepalived is not installed (make deps)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && go build -o "$tmp/lvsctl" ./cmd/lvsctl) || exit 1

files=()
for arg in "$@"; do
  if [ -d "$arg" ]; then
    for f in "$arg"/*; do
      case "$f" in *.md) continue ;; esac
      [ -f "$f" ] && files+=("$f")
    done
  else
    files+=("$arg")
  fi
done

both=0 ka_only=0 lv_only=0 neither=0
kaargs=() lvargs=()
if [ -n "$id" ]; then
  kaargs=(-i "$id")
  lvargs=(--config-id "$id")
fi
for f in "${files[@]}"; do
  timeout 30 keepalived -t -f "$f" "${kaargs[@]}" >"$tmp/ka.out" 2>&1
  ka=$?
  kan=$(grep -c . "$tmp/ka.out")
  "$tmp/lvsctl" config check -f "$f" "${lvargs[@]}" >"$tmp/lv.out" 2>"$tmp/lv.err"
  lv=$?
  lverr=$(grep -vc ': warning: ' "$tmp/lv.err")
  lvwarn=$(grep -c ': warning: ' "$tmp/lv.err")
  if [ $ka -eq 0 ]; then kas="ok"; else kas="rc=$ka"; fi
  kas="$kas ($kan lines)"
  if [ $lv -eq 0 ]; then lvs="ok, $lvwarn warnings"; else lvs="$lverr errors, $lvwarn warnings"; fi
  printf '%-48s keepalived: %-16s lvsctl: %s\n' "$(basename "$f")" "$kas" "$lvs"
  if [ $lv -ne 0 ]; then
    first=$(grep -v ': warning: ' "$tmp/lv.err" | head -1)
    printf '%-48s   first lvsctl error: %s\n' "" "${first#"$f":}"
  fi
  case "$ka$lv" in
    00) both=$((both + 1)) ;;
    0*) ka_only=$((ka_only + 1)) ;;
    *0) lv_only=$((lv_only + 1)) ;;
    *) neither=$((neither + 1)) ;;
  esac
done
total=${#files[@]}
lv_ok=$((both + lv_only))
echo
echo "$total files: lvsctl loads $lv_ok; both accept $both, only keepalived $ka_only, only lvsctl $lv_only, neither $neither"
