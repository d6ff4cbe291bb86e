#!/usr/bin/env bash
# Every shell script of the tree passes shellcheck: the tracked *.sh files and every tracked
# file whose first line names sh or bash (outside a git checkout: the same found on disk).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
command -v shellcheck >/dev/null || { echo "shellcheck: not installed (deploy/install-deps.sh installs it)"; exit 77; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t all < <(git ls-files | grep -v '^test/fuzz/corpus/')
else
  mapfile -t all < <(find . \( -path ./.git -o -path './build*' -o -path ./test/fuzz/corpus \) -prune -o -type f -print | sed 's|^\./||')
fi
scripts=()
for f in "${all[@]}"; do
  [[ -f $f ]] || continue
  if [[ $f == *.sh ]] || head -n1 "$f" 2>/dev/null | grep -qE '^#!.*(/|env )(ba)?sh([[:space:]]|$)'; then scripts+=("$f"); fi
done
[[ ${#scripts[@]} -gt 0 ]] || { echo "shellcheck: no shell scripts found"; exit 1; }
if shellcheck -x -P SCRIPTDIR "${scripts[@]}"; then
  echo "shellcheck: ok (${#scripts[@]} scripts: ${scripts[*]})"
else
  echo "shellcheck: the findings above are in ${#scripts[@]} scripts; fix them (or, for a deliberate case, a '# shellcheck disable=SCnnnn' with the reason)"
  exit 1
fi
