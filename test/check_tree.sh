#!/usr/bin/env bash
# The tree's own rules, checked on every test run:
#   1. pure libraries (dataplane/{base,net,mqttsn,config,route,xdp} and the output formats) include no
#      DPDK header, even by a path the compiler's default search would find (<dpdk/rte_*.h>);
#   2. no scaffolding markers or issue numbers in code, build files, comments, messages or docs;
#   3. C sources are formatted with the checked-in .clang-format (when clang-format is installed).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
fail=0

pure=(dataplane/base dataplane/net dataplane/mqttsn dataplane/config dataplane/route dataplane/xdp
      dataplane/outputs/out_template.c dataplane/outputs/out_template.h dataplane/outputs/resp_enc.h)
if hits=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](dpdk/)?(rte_|dataplane\.h|generic/rte_)' "${pure[@]}"); then
  echo "check-tree: a pure library includes a DPDK header:"; echo "$hits"; fail=1
fi

# the tracked files, or (outside a git checkout) the same kinds of file found on disk
files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then git ls-files -- "$@"; return; fi
  local -a names=()
  for n in "$@"; do names+=(-name "$n" -o); done
  find . \( -path ./.git -o -path './build*' \) -prune -o -type f \( "${names[@]}" -false \) -print | sed 's|^\./||'
}
mapfile -t code < <(files '*.c' '*.h' '*.py' '*.sh' '*.build' '*.html' '*.yaml' '*.md' 'meson_options.txt' | grep -v '^test/fuzz/corpus/')
if hits=$(grep -nE '^[[:space:]]*# [A-Z0-9]+(-[A-Z0-9]+)+[[:space:]]*$|\(helper[:)]' "${code[@]}"); then
  echo "check-tree: scaffolding markers:"; echo "$hits"; fail=1
fi
if hits=$(grep -niE "\bissue[s]?[ #-]*[0-9]+|\bissue [0-9]+'s\b" "${code[@]}"); then
  echo "check-tree: issue numbers belong in the tracker, not in the tree:"; echo "$hits"; fail=1
fi

if command -v clang-format >/dev/null; then
  mapfile -t cfiles < <(files '*.c' '*.h' | grep -v '^test/fuzz/corpus/')
  if ! out=$(clang-format --dry-run -Werror "${cfiles[@]}" 2>&1); then
    echo "check-tree: not formatted with .clang-format (run: clang-format -i FILE):"
    echo "$out" | grep -E '^[^ ].*error:' | cut -d: -f1 | sort -u | head -20; fail=1
  fi
else
  echo "check-tree: clang-format not installed; formatting not checked"
fi
[[ $fail -eq 0 ]] && echo "check-tree: ok"
exit $fail
