# sync-chart-lib.sh is sourced by the hack/sync-chart-*.sh scripts that turn
# one generated file into one chart template. It sets ROOT, the repository.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# sync_chart_prepare SRC DST PATTERN WHAT fails unless SRC has a line
# matching PATTERN (the generated WHAT), and creates DST's directory.
sync_chart_prepare() {
  grep -q "$3" "$1" || { echo "$1: no $4" >&2; exit 1; }
  mkdir -p "$(dirname "$2")"
}
