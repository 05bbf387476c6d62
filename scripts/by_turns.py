#!/usr/bin/env python3
"""Times the bench of two revisions by turns and prints each row's medians.

    scripts/by_turns.py BASE CHANGED [--rounds N] -- BENCH_ARGS...

BASE and CHANGED are commits (anything `git rev-parse` takes), or `.` for
the working tree as it is. Each commit's bench is built afresh from a
detached worktree of it, never taken from an earlier build. The builds
share target/by-turns, where the crate's own artifacts are cleaned before
each (cargo takes two checkouts of it for one), the dependencies kept.

Two binaries are two sides even where their kernels are the same: on
lavapipe, rows neither revision changed read up to 0.17 of the floor apart,
as an offset fixed for the whole comparison, in either direction from one
comparison to the next (BENCHMARKS.md). Give the bench rows that neither
side changes (the filter and shapes decide) and read each change against
theirs. A change smaller than that is measured in one binary instead, with
an environment variable that turns it off in a throw-away build.

Each round runs both benches one after the other with BENCH_ARGS and
`--json`, the order swapped every round, so that drift within a round
does not favour either. The summary gives, for each row against a floor
(an op's "x floor"), the median ratio of each revision and its range over
the rounds. A software adapter's memory is shared with the machine: each
run's 2-stream floor at its largest length is printed, and a round whose
floor is more than 15% above the quietest is marked contended (ratios
close up there); the medians are also given over the quiet rounds alone.

    scripts/by_turns.py HEAD . --rounds 4 -- --shapes --dtype f32 \\
        --filter _prelu_forward --shape 16384,1024,1,1
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(ROOT, "target", "by-turns")
# A round whose floor is this much above the quietest round's is contended.
CONTENDED = 1.15


def build(rev):
    """The path of REV's bench binary, built for this comparison."""
    env = dict(os.environ)
    if rev == ".":
        name, source = "working-tree", ROOT
    else:
        commit = git("rev-parse", "--short", rev)
        name, source = commit, tempfile.mkdtemp(prefix="by-turns-")
        git("worktree", "add", "--detach", source, commit)
    env["CARGO_TARGET_DIR"] = TARGET
    try:
        # Cargo does not tell one checkout of the crate from another: its
        # own artifacts go, the dependencies' stay.
        for command in (["clean", "--release", "-p", "wgpu-relu"], ["build", "--release", "--example", "bench"]):
            subprocess.run(["cargo", *command], cwd=source, env=env, check=True)
    finally:
        if source != ROOT:
            git("worktree", "remove", "--force", source)
    binary = os.path.join(TARGET, f"bench-{name}")
    os.replace(os.path.join(TARGET, "release", "examples", "bench"), binary)
    return name, binary


def git(*args):
    out = subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def run(binary, args):
    """The rows of one bench run."""
    out = subprocess.run([binary, *args, "--json"], check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def floor_ms(rows):
    """The 2-stream floor's time at the run's largest length."""
    floors = [r for r in rows if r["op"] == "shader_floor_2_streams" and r["against"] == "copy"]
    return max(floors, key=lambda r: r["len"])["ms"] if floors else float("nan")


def main():
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    ours, bench_args = argv[:split], argv[split + 1 :]
    rounds = 2
    if "--rounds" in ours:
        at = ours.index("--rounds")
        rounds = int(ours[at + 1])
        del ours[at : at + 2]
    if len(ours) != 2:
        sys.exit(__doc__)
    revisions = [build(rev) for rev in ours]
    # (revision, round) -> rows, and each run's floor.
    runs = {}
    for r in range(rounds):
        order = revisions if r % 2 == 0 else revisions[::-1]
        for name, binary in order:
            rows = run(binary, bench_args)
            runs[(name, r)] = rows
            print(f"round {r + 1} {name}: floor {floor_ms(rows):.2f} ms", file=sys.stderr)
    quietest = min(floor_ms(rows) for rows in runs.values())
    quiet = {key for key, rows in runs.items() if floor_ms(rows) <= CONTENDED * quietest}
    summarise(revisions, rounds, runs, quiet)


def summarise(revisions, rounds, runs, quiet):
    names = [name for name, _ in revisions]
    print(f"x floor, median [range] of {rounds} rounds; quiet rounds' median after |")
    print("floor 2-stream ms by round: " + "; ".join(
        f"{name} " + " ".join(
            f"{floor_ms(runs[(name, r)]):.1f}{'' if (name, r) in quiet else '*'}"
            for r in range(rounds)
        )
        for name in names
    ) + "   (* contended)")
    keys = []
    for rows in runs.values():
        for row in rows:
            key = (row["op"], row["dtype"], row["len"])
            if row["against"] != "copy" and key not in keys:
                keys.append(key)
    for key in keys:
        cells = []
        for name in names:
            ratios = {r: ratio_of(runs[(name, r)], key) for r in range(rounds)}
            all_ = [v for v in ratios.values() if v is not None]
            calm = [v for r, v in ratios.items() if v is not None and (name, r) in quiet]
            if not all_:
                cells.append(f"{name}: -")
                continue
            cell = f"{name}: {statistics.median(all_):.3f} [{min(all_):.2f}-{max(all_):.2f}]"
            cell += f" | {statistics.median(calm):.3f}" if calm else " | -"
            cells.append(cell)
        op, dtype, length = key
        print(f"{op} {dtype} {length}: " + "   ".join(cells))


def ratio_of(rows, key):
    for row in rows:
        if (row["op"], row["dtype"], row["len"]) == key and row["against"] != "copy":
            return row["ratio"]
    return None


if __name__ == "__main__":
    main()
