"""The ``moonshot`` command line: demo, train, plan, evaluate, compare, render, benchmark."""

from __future__ import annotations

import argparse
import sys
import textwrap

DESCRIPTION = """\
moonshot: measure local vs extreme generalization in two worlds.

  MoonLaunch  launch a rocket from a parking orbit so that it reaches the Moon
  CityNav     drive through a city with traffic, to a goal, without crashing

Model-free RL (stable-baselines3) needs many trials and deaths; model-based planners need a
handful; `moonshot evaluate` moves both to unseen ("new") maps and scenarios.
ENV is `moon` or `city` (or the full ids moonshot/MoonLaunch-v0, moonshot/CityNav-v0).
"""

EPILOG = """\
examples:
  moonshot demo                                   # the main job, report in runs/demo
  moonshot plan moon --episodes 20 --out runs/moon-planner
  moonshot train moon --algo ppo --timesteps 200000 --out runs/moon-ppo
  moonshot evaluate runs/moon-ppo runs/moon-planner --split new --episodes 100
"""


class NotBuiltYet(Exception):
    """A command of the documented interface that this version does not provide yet."""


def _add_common_run_args(p: argparse.ArgumentParser, out_default: str | None = None) -> None:
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--out", default=out_default, required=out_default is None,
                   help="run folder to write" + (f" (default: {out_default})" if out_default
                                                 else ""))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moonshot", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="the main job: a small end-to-end experiment on both worlds",
                       description="Train PPO briefly, run both planners, evaluate on train and "
                                   "new splits, write report.md with tables, plots and GIFs.")
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument("--full", action="store_true",
                   help="the full-scale experiment behind the README's headline numbers (hours)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")

    p = sub.add_parser("train", help="train an RL agent (stable-baselines3)",
                       description="Train an RL agent and log every training episode.")
    p.add_argument("env", metavar="ENV", help="moon | city | a full env id")
    p.add_argument("--algo", default="ppo", help="ppo | sac | td3 | a2c (default: ppo)")
    p.add_argument("--timesteps", type=int, default=100_000,
                   help="env steps, i.e. launches for moon (default: 100000)")
    _add_common_run_args(p)
    p.add_argument("--n-envs", type=int, default=None,
                   help="parallel envs (default: from the packaged hyperparameters)")
    p.add_argument("--split", choices=["train", "new"], default="train",
                   help="the split to train on (default: train)")
    p.add_argument("--target", default=None, help="moon target: soi | flyby | landing")
    p.add_argument("--env-kwargs", nargs="*", metavar="KEY=VALUE", default=[],
                   help="env config, e.g. target=soi execution_error=0")
    p.add_argument("--hyperparams", nargs="*", metavar="KEY=VALUE", default=[],
                   help="override the packaged hyperparameters (moonshot/agents/"
                   "hyperparams.yaml), e.g. learning_rate=1e-3 or lin_3e-4 (linear decay), "
                   "n_steps=1024, normalize=true (VecNormalize)")
    p.add_argument("--tensorboard", action="store_true",
                   help="write TensorBoard logs into OUT/tensorboard (needs pip install "
                   "tensorboard)")
    p.add_argument("--eval-every", type=int, default=0,
                   help="env steps between evaluations on both splits (default: 10 per run)")
    p.add_argument("--eval-episodes", type=int, default=50,
                   help="episodes per split and evaluation (default: 50)")
    p.add_argument("--checkpoint-every", type=int, default=0,
                   help="env steps between checkpoints (default: 5 per run)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("plan", help="run the model-based planner on N scenarios or maps",
                       description="Run the model-based planner; writes episodes.csv and "
                                   "summary.json like an RL run.")
    p.add_argument("env", metavar="ENV", help="moon | city | a full env id")
    p.add_argument("--episodes", type=int, default=20,
                   help="scenarios (moon) or drives (city) (default: 20)")
    p.add_argument("--split", choices=["train", "new"], default="train")
    p.add_argument("--target", default=None, help="MoonLaunch target: soi | flyby | landing")
    p.add_argument("--max-trials", type=int, default=5,
                   help="moon: launches allowed per scenario (default: 5)")
    _add_common_run_args(p)

    p = sub.add_parser("evaluate", help="evaluate frozen agents on held-out maps",
                       description="Evaluate frozen agents (run folders, or 'planner').")
    p.add_argument("runs", nargs="+", metavar="DIR",
                   help="training or planner run folders, or planner:moon / planner:city")
    p.add_argument("--split", choices=["train", "new", "both"], default="both",
                   help="where to evaluate (default: both, which also gives the gap)")
    p.add_argument("--episodes", type=int, default=50,
                   help="scenarios (moon, up to 5 launches each) or drives (city) per split")
    _add_common_run_args(p, "runs/evaluation")

    p = sub.add_parser("compare", help="sample-efficiency table and learning curves",
                       description="Compare runs from their episodes.csv files.")
    p.add_argument("runs", nargs="+", metavar="DIR", help="run folders with episodes.csv")
    p.add_argument("--out", default="runs/compare", help="output folder")
    p.add_argument("--window", type=int, default=100,
                   help="episodes in the rolling success rate (default: 100)")

    p = sub.add_parser("render", help="render episodes to GIF or MP4",
                       description="Render episodes of an agent to a GIF or MP4 file.")
    p.add_argument("env", metavar="ENV", help="moon | city | a full env id")
    p.add_argument("--agent", default="planner", help="'planner' or a training run folder")
    p.add_argument("--split", choices=["train", "new"], default="train")
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--fps", type=int, default=None)
    p.add_argument("--view", choices=["top", "chase"], default="top",
                   help="city: top-down around the car (default) or chase, 3D from behind "
                   "and above it")
    _add_common_run_args(p)

    p = sub.add_parser("benchmark", help="throughput of the environments and planners",
                       description="Measure env and planner throughput next to peers.")
    p.add_argument("--quick", action="store_true", help="a smoke-sized run (< 1 minute)")
    p.add_argument("--out", default="runs/benchmark", help="output folder")
    return parser


def _version() -> str:
    from . import __version__

    return f"moonshot {__version__}"


def _dispatch(args: argparse.Namespace) -> int:
    from . import commands

    handler = getattr(commands, f"cmd_{args.command}", None)
    if handler is None:
        raise NotBuiltYet(f"`moonshot {args.command}` is part of the documented interface but "
                          "is not built in this version yet")
    return int(handler(args) or 0)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return _dispatch(args)
    except NotBuiltYet as exc:
        print(f"moonshot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("moonshot: interrupted; finished files are kept", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, OSError) as exc:
        print("moonshot: error: " + textwrap.fill(str(exc), 100), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
