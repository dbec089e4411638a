#!/usr/bin/env bash
# What a hello-world app (one server, one call, print) costs to build: on noex without
# its agent, on noex with it (the default), and on kameo 0.22. Prints, per app, the
# crates of its dependency tree, the crates a cold build compiles, and the medians of
# RUNS cold debug builds (wall time, and CPU time: user + system), with the ratios to
# kameo.
#
#   noex-bench/build-cost/measure.sh [RUNS] [APP...]    (3 runs of all three by default)
#
# Each build starts from an empty target directory of its own under $TMPDIR (or /tmp),
# deleted once measured. The apps' builds alternate, so a burst of other work on the
# machine spreads over all of them rather than landing on one. CARGO_INCREMENTAL=0:
# cargo builds a path dependency (the local noex here) incrementally, which a
# dependency from crates.io never is, and which slows a cold build of it.
set -euo pipefail
cd "$(dirname "$0")"

runs="${1:-3}"
shift || true
apps=("$@")
if [ "${#apps[@]}" -eq 0 ]; then
    apps=(noex-off noex-on kameo)
fi
export CARGO_INCREMENTAL=0
TIMEFORMAT='%R %U %S'

# Downloads are not part of a build's time.
for app in "${apps[@]}"; do
    cargo fetch --quiet --manifest-path "$app/Cargo.toml"
done

declare -A walls cpus compiled
for ((run = 1; run <= runs; run++)); do
    for app in "${apps[@]}"; do
        target="$(mktemp -d "${TMPDIR:-/tmp}/build-cost-$app.XXXXXX")"
        log="$target.log"
        if ! spent=$({ time CARGO_TARGET_DIR="$target" cargo build --offline \
            --manifest-path "$app/Cargo.toml" >"$log" 2>&1; } 2>&1); then
            cat "$log" >&2
            rm -rf "$target" "$log"
            exit 1
        fi
        compiled[$app]=$(grep -c '^ *Compiling ' "$log")
        rm -rf "$target" "$log"
        read -r wall user sys <<<"$spent"
        cpu=$(echo "$user + $sys" | bc)
        walls[$app]+="$wall "
        cpus[$app]+="$cpu "
        echo "run $run/$runs: $app ${wall}s (CPU ${cpu}s)" >&2
    done
done

median() {
    tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A crates wall cpu
for app in "${apps[@]}"; do
    crates[$app]=$(cargo tree --offline -e normal --prefix none --manifest-path "$app/Cargo.toml" |
        sed 's/ (\*)$//' | sort -u | wc -l)
    wall[$app]=$(echo "${walls[$app]}" | median)
    cpu[$app]=$(echo "${cpus[$app]}" | median)
done

printf '\n| app | crates in the tree | crates compiled | wall, median of %s | CPU, median | wall runs (s) | vs kameo: crates, wall, CPU |\n' "$runs"
printf '|---|---|---|---|---|---|---|\n'
for app in "${apps[@]}"; do
    ratio="–"
    if [ -n "${wall[kameo]:-}" ] && [ "$app" != kameo ]; then
        ratio=$(awk -v c="${crates[$app]}" -v ck="${crates[kameo]}" -v w="${wall[$app]}" \
            -v wk="${wall[kameo]}" -v t="${cpu[$app]}" -v tk="${cpu[kameo]}" \
            'BEGIN { printf "%.2fx, %.2fx, %.2fx", c / ck, w / wk, t / tk }')
    fi
    printf '| %s | %s | %s | %.1f s | %.1f s | %s| %s |\n' "$app" "${crates[$app]}" \
        "${compiled[$app]}" "${wall[$app]}" "${cpu[$app]}" "$(printf '%.1f ' ${walls[$app]})" "$ratio"
done
