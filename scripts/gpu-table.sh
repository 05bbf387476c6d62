#!/usr/bin/env bash
# The table on a real GPU, from the binaries scripts/gpu-binaries.sh built:
# every test binary first (a GPU test never passes by skipping, so each
# must pass there too), then the bench at 1M, 16M and 256M elements and at
# the shapes networks have, each op against the copy and against the
# fastest copy-only kernel of its traffic (--tuned-floor), with GB/s. Run
# from the repository's root; the adapter is what wgpu finds
# (WGPU_BACKEND, and the Vulkan loader's own variables, as the machine
# needs). Everything goes into OUT: tests.txt, table.json, shapes.json.
#
#   scripts/gpu-table.sh DIR OUT
set -uo pipefail
packed=${1:?the folder scripts/gpu-binaries.sh filled}/binaries.tar.xz
out=${2:?a folder for the results}
mkdir -p "$out"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tar -xJf "$packed" -C "$dir"
export WGPU_BACKEND=${WGPU_BACKEND:-vulkan}

# The golden vectors' path was fixed at build time: make it this checkout.
built_in=$(cat "$dir/built_in")
if [ "$built_in" != "$PWD" ] && [ ! -e "$built_in" ]; then
    mkdir -p "$(dirname "$built_in")" && ln -s "$PWD" "$built_in"
fi

failed=0
for test in "$dir"/tests/*; do
    echo "== $(basename "$test")"
    "$test" --test-threads 4 || failed=$((failed + 1))
done > "$out/tests.txt" 2>&1
echo "test binaries failed: $failed" | tee -a "$out/tests.txt"

"$dir/bench" --json --tuned-floor --lens 1048576,16777216,268435456 \
    > "$out/table.json" 2> "$out/table.err"
"$dir/bench" --json --tuned-floor --shapes --filter "[" \
    > "$out/shapes.json" 2> "$out/shapes.err"
echo "rows: $(wc -l < "$out/table.json") in table.json, $(wc -l < "$out/shapes.json") in shapes.json"
exit "$failed"
