#!/usr/bin/env bash
# Builds what scripts/gpu-table.sh runs on a GPU machine that cannot build:
# the bench and every test binary, release, stripped, with the source
# folder they were built in (the golden-vector tests read tests/golden
# from it), packed with xz into DIR/binaries.tar.xz (DIR default devbin/,
# which git ignores): about 13 MB where the binaries take 150.
#
#   scripts/gpu-binaries.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-devbin}
rm -rf "$dir"
mkdir -p "$dir/tests"
cargo build --release --example bench
cp target/release/examples/bench "$dir/bench"
# cargo names each test binary it builds: "Executable tests/x.rs (path)".
cargo test --release --no-run 2>&1 |
    sed -n 's/^ *Executable .*(\(target\/release\/deps\/[^)]*\))$/\1/p' |
    while read -r binary; do
        cp "$binary" "$dir/tests/"
    done
strip "$dir/bench" "$dir"/tests/*
pwd > "$dir/built_in"
count=$(ls "$dir/tests" | wc -l)
tar -cJf "$dir.tar.xz" -C "$dir" .
rm -rf "$dir"
mkdir -p "$dir"
mv "$dir.tar.xz" "$dir/binaries.tar.xz"
echo "$count test binaries and the bench in $dir/binaries.tar.xz ($(du -h "$dir/binaries.tar.xz" | cut -f1))"
