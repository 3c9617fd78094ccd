#!/usr/bin/env bash
# The release measurement's queue (docs/results.md names each command), run job by job from a
# checkout of the commit whose agents it measures, and kept in main's measurements/ as it
# grows: the machine it runs on starts empty at every working session.
#
#   measurements/queue.sh            # restore, run what is left, in order; persist each job
#   RUNNING=1 measurements/queue.sh persist NAME   # commit job NAME's folder now (a session's
#                                                  # end: running cells' checkpoints too)
#
# A sweep job resumes from its committed folder (finished cells and the last snapshot of
# running ones); any other job is short and reruns whole unless its folder is committed.
# Settings: AGENTS_COMMIT (the frozen agents), WORK (where jobs run), REPO (main's checkout).
set -uo pipefail
AGENTS_COMMIT=${AGENTS_COMMIT:-0d14942}
REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
WORK=${WORK:-/work/measure-runs}
TREE=$WORK/agents-$AGENTS_COMMIT
mkdir -p "$WORK"
if [ ! -d "$TREE" ] && [ "${1:-}" != persist ]; then
    git -C "$REPO" worktree add --detach "$TREE" "$AGENTS_COMMIT" || exit 1
fi
export PYTHONPATH=$TREE MPLBACKEND=Agg
SPECS=$TREE/moonshot/sweeps
LOG=$WORK/queue.log

persist() {  # $1: the job's folder name; RUNNING=1 also keeps running cells' checkpoints
    local s=$1 src=$WORK/$1 dst=$REPO/measurements/$1
    [ -d "$src" ] || return 0
    mkdir -p "$dst"
    if [ -d "$src/cells" ]; then
        for f in "$src"/*; do [ -f "$f" ] && cp -p "$f" "$dst/"; done
        mkdir -p "$dst/cells"
        for c in "$src"/cells/*/; do
            [ -d "$c" ] || continue
            local id; id=$(basename "$c")
            [ -f "$c/DONE" ] || [ "${RUNNING:-0}" = 1 ] || continue
            rm -rf "$dst/cells/$id"
            cp -a "$c" "$dst/cells/$id" || continue
            find "$dst/cells/$id" -name '.*' -exec rm -rf {} +
            if [ -f "$c/DONE" ]; then rm -rf "$dst/cells/$id/run/checkpoints"; fi
        done
    else
        rm -rf "$dst" && cp -a "$src" "$dst" && find "$dst" -name '.*' -exec rm -rf {} +
    fi
    local n try; n=$(ls "$REPO"/measurements/*/cells/*/DONE 2>/dev/null | wc -l)
    for try in 1 2 3; do  # another git command may hold the index for a moment
        git -C "$REPO" add measurements &&
            git -C "$REPO" commit -q -m "measurements: $s ($n sweep cells finished in all)" \
                -- measurements && { echo "$(date) persisted $s" >> "$LOG"; return 0; }
        git -C "$REPO" diff --cached --quiet -- measurements && return 0  # nothing new
        sleep 10
    done
}

finished() {  # whether job $1 is done (in WORK or committed)
    local d
    for d in "$WORK/$1" "$REPO/measurements/$1"; do
        [ -f "$d/summary.json" ] || [ -f "$d/FINISHED" ] && return 0
    done
    return 1
}

job() {  # job NAME COMMAND...: run COMMAND (its --out is $WORK/NAME) unless NAME is done
    local name=$1; shift
    finished "$name" && return 0
    if [ -d "$REPO/measurements/$name/cells" ] && [ ! -d "$WORK/$name" ]; then
        cp -a "$REPO/measurements/$name" "$WORK/$name"  # a sweep resumes from its snapshot
    elif [ -d "$WORK/$name" ] && [ ! -d "$WORK/$name/cells" ]; then
        # an evaluation or ladder cut off by the end of a session: set aside, done again
        mv "$WORK/$name" "$WORK/$name.cut-$(date +%s)"
    fi
    echo "$(date) start $name: $*" >> "$LOG"
    if "$@"; then
        touch "$WORK/$name/FINISHED"
        echo "$(date) done $name" >> "$LOG"
    else
        echo "$(date) FAILED $name (rc $?)" >> "$LOG"
    fi
    persist "$name"
}

sweep() {  # sweep NAME: the results spec NAME.yaml into $WORK/NAME, its finished cells
    # committed every PERSIST_EVERY seconds while it runs
    finished "$1" && return 0
    ( while sleep "${PERSIST_EVERY:-1200}"; do persist "$1"; done ) &
    local watcher=$!
    job "$1" moonshot sweep "$SPECS/$1.yaml" --out "$WORK/$1" --resume --no-progress
    kill "$watcher" 2>/dev/null
}

cell() { echo "$WORK/$1/cells/$2/run"; }

if [ "${1:-}" = persist ]; then persist "$2"; exit 0; fi

CITY_AXES="traffic layout vehicle friction driving_side lidar_noise drivers grip_misjudged
occlusion sensor_delay roadworks friction+traffic friction+traffic+vehicle
friction+vehicle+layout drivers+sensor_delay+grip_misjudged drivers+occlusion+sensor_delay
roadworks+occlusion"
LADDER_EPISODES=${LADDER_EPISODES:-30}

# 1. CityNav: the ten-seed sweep, then its ladders, one axis a job
sweep headline-city
ladder() {  # the CityNav ladder of axis $1 for the headline's cells and the planners
    job "city-ladder-$1" moonshot shift city --axis "$1" \
            --agent "$(cell headline-city ppo-lidar-s0)" --agent "$(cell headline-city ppo-lidar-s1)" \
            --agent "$(cell headline-city ppo-lidar-s2)" --agent "$(cell headline-city sysid-s0)" \
            --agent "$(cell headline-city pets-s0)" --agent planner:city \
            --agent planner:city:perception=oracle \
            --episodes "$LADDER_EPISODES" --seed 0 --seed-set test --no-progress \
            --out "$WORK/city-ladder-$1"
}
if finished headline-city; then
    set -- $CITY_AXES
    while [ $# -gt 0 ]; do  # two axes at a time: one core each
        ladder "$1" & [ $# -gt 1 ] && ladder "$2"; wait
        shift; [ $# -gt 0 ] && shift
    done
fi
# 2. MoonLaunch: the tuned PPO and the fixed pets, ten seeds each
sweep headline-moon-tuned
sweep headline-moon-pets
# 3. CityNav: PPO given the planner's information
sweep headline-city-informed
# 4. BodyWalk
sweep headline-body
job body-adapt-eval moonshot evaluate adapt:body --episodes 50 --seed 0 --seed-set test \
    --out "$WORK/body-adapt-eval"
job body-adapt-ladder moonshot shift body --agent adapt:body --axis damage payload friction \
    slope damage+payload friction+slope --episodes 20 --seed 0 --seed-set test --no-progress \
    --out "$WORK/body-adapt-ladder"
if finished headline-body; then
    job body-adaptation python "$TREE/benchmarks/body_adaptation.py" \
        "$(cell headline-body sysid-s0)" "$(cell headline-body pets-s0)" adapt:body planner:body \
        --walks 20 --seed 0 --seed-set test --out "$WORK/body-adaptation"
fi
# 5. simulator-search on CityNav (MPC in copies of the live drive: the slowest agent)
job city-search-eval moonshot evaluate search:city --episodes 100 --seed 0 --seed-set test \
    --out "$WORK/city-search-eval"
echo "$(date) queue at its end" >> "$LOG"
