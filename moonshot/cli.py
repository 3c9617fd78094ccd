"""The ``moonshot`` command line: demo, train, plan, evaluate, compare, render, benchmark."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports the worlds only when a command needs them
    from .worlds import World

from .errors import did_you_mean

DESCRIPTION = """\
moonshot: measure local vs extreme generalization in two worlds.

  MoonLaunch  launch a rocket from a parking orbit so that it reaches the Moon
  CityNav     drive through a city with traffic, to a goal, without crashing

Model-free RL (stable-baselines3) needs many trials and deaths; model-based planners need a
handful; `moonshot evaluate` moves both to unseen ("new") maps and scenarios.
ENV is a world's short name or one of its env ids: {worlds}; worlds of your own load as
plug-ins (MOONSHOT_WORLDS=module[,module], or the entry-point group moonshot.worlds).
AGENT is `planner` (the world's planner), a run folder, `pretrained:NAME` (`moonshot
pretrained` lists them), or `module:Class` (your own Agent).
"""

EPILOG = """\
examples:
  moonshot demo                                   # the main job, report in runs/demo
  moonshot plan moon --episodes 20 --out runs/moon-planner
  moonshot train moon --algo ppo --timesteps 200000 --out runs/moon-ppo
  moonshot evaluate runs/moon-ppo runs/moon-planner --split new --episodes 100
"""


class Parser(argparse.ArgumentParser):
    """argparse with no abbreviations (``--timestep`` is not ``--timesteps``) and a "did you
    mean" for an unknown flag, from the options of the command it was given to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self._command_parser(ns)
            options = list(parser._option_string_actions)
            hints = "".join(did_you_mean(e.split("=", 1)[0], options) for e in extras
                            if e.startswith("-"))
            parser.error(f"unrecognized arguments: {' '.join(extras)}{hints}")
        return ns

    def _command_parser(self, ns: argparse.Namespace) -> argparse.ArgumentParser:
        """The subcommand's parser that ``ns`` went through (``self`` when none did)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action.choices.get(str(getattr(ns, action.dest, "")), self)
        return self


class NotBuiltYet(Exception):
    """A command of the documented interface that this version does not provide yet."""


def _add_common_run_args(p: argparse.ArgumentParser, out_default: str | None = None) -> None:
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--out", default=out_default, required=out_default is None,
                   help="run folder to write" + (f" (default: {out_default})" if out_default
                                                 else ""))


def _add_seed_set(p: argparse.ArgumentParser, default: str | None = "dev") -> None:
    p.add_argument("--seed-set", choices=["dev", "test", "legacy"], default=default,
                   help="the seeds evaluated (docs/protocol.md): dev for development, test for "
                   "reported figures only, legacy the rule of the figures before the protocol "
                   + (f"(default: {default})" if default else "(default: the spec's, dev)"))


def build_parser() -> argparse.ArgumentParser:
    from .evaluation.sweep.spec import schema_help
    from .worlds import known_worlds

    env_help = "a world (" + ", ".join(w.name for w in _worlds()) + ") or a full env id"
    parser = Parser(
        prog="moonshot", description=DESCRIPTION.format(worlds=known_worlds()), epilog=EPILOG,
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
    _add_seed_set(p)

    p = sub.add_parser("train", help="train an RL agent (stable-baselines3)",
                       description="Train an RL agent and log every training episode.")
    p.add_argument("env", metavar="ENV", help=env_help)
    p.add_argument("--algo", default=None,
                   help="any stable-baselines3 algorithm (ppo, sac, td3, a2c, ddpg, dqn) or, "
                   "with sb3-contrib installed, one of its own (tqc, trpo, qrdqn, ars, "
                   "crossq, ppo_lstm: recurrent PPO), the world's defaults where it declares "
                   "them, else the algorithm's own; or an agent that learns its own model: "
                   "pets | sysid (moon, city, body) (default: ppo)")
    p.add_argument("--timesteps", type=int, default=None,
                   help="env steps, i.e. launches for moon (default: 100000; pets 3000, sysid 50 "
                   "on moon, pets 24000, sysid 22000 on city, pets 25000, sysid 5000 on "
                   "body; "
                   "with --resume: "
                   "the run's own budget, or a new one)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: 0)")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--n-envs", type=int, default=None,
                   help="parallel envs (default: from the packaged hyperparameters)")
    p.add_argument("--split", choices=["train", "new"], default=None,
                   help="the split to train on (default: train)")
    p.add_argument("--target", default=None,
                   help="the task, in worlds that have a choice (moon: soi | flyby | landing)")
    p.add_argument("--env-kwargs", nargs="*", metavar="KEY=VALUE", default=[],
                   help="env config, e.g. target=soi execution_error=0")
    p.add_argument("--hyperparams", nargs="*", metavar="KEY=VALUE", default=[],
                   help="override the packaged hyperparameters (moonshot/agents/"
                   "hyperparams.yaml), e.g. learning_rate=1e-3 or lin_3e-4 (linear decay), "
                   "n_steps=1024, normalize=true (VecNormalize)")
    p.add_argument("--hyperparams-from", default=None, metavar="DIR",
                   help="train with the best set of a `moonshot tune` folder (its best.json: "
                   "hyperparameters and the env settings they were tuned with; --algo, "
                   "--hyperparams and --env-kwargs go on top)")
    p.add_argument("--tensorboard", action="store_true",
                   help="write TensorBoard logs into OUT/tensorboard: SB3's scalars and "
                   "moonshot's (training success and death rates, deaths, evaluation per "
                   "split; needs pip install tensorboard)")
    p.add_argument("--eval-every", type=int, default=None,
                   help="env steps between evaluations on both splits (default: 10 per run)")
    p.add_argument("--eval-episodes", type=int, default=None,
                   help="episodes per split and evaluation (default: 50)")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="env steps between checkpoints (default: 5 per run)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint: the same "
                   "experiment (budget, hyperparameters, schedule, random states) unless "
                   "--timesteps gives a new budget; a finished run does no work")
    p.add_argument("--device", default=None, help="torch device (default: cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser(
        "tune", help="search RL hyperparameters on development seeds (Optuna), every trial "
        "counted", description="A hyperparameter search (Optuna's seeded TPE, as RL Zoo's "
        "--optimize): each trial trains --seeds runs (OUT/trials/N/seedK) and scores their "
        "mean success on dev seeds (or, with --objective return, their mean episode return); "
        "OUT/trials.csv counts every trial's env steps, episodes "
        "and deaths, OUT/best.json holds the best set (moonshot train --hyperparams-from OUT). "
        "Rerun with the same --out to continue the search (docs/protocol.md).")
    p.add_argument("env", metavar="ENV", help=env_help)
    p.add_argument("--algo", default="ppo", help="ppo | sac | td3 | a2c | ppo_lstm "
                   "(default: ppo)")
    p.add_argument("--trials", type=int, required=True, help="hyperparameter sets to try")
    p.add_argument("--timesteps", type=int, default=100_000,
                   help="env steps of each training run (default: 100000)")
    p.add_argument("--seeds", type=int, default=3,
                   help="training runs per trial; the objective is their mean (default: 3)")
    p.add_argument("--eval-episodes", type=int, default=50,
                   help="dev scenarios per split evaluated after each run (default: 50)")
    p.add_argument("--split", choices=["train", "new", "both"], default="train",
                   help="the split(s) the objective averages over (default: train)")
    p.add_argument("--objective", choices=["success", "return"], default="success",
                   help="what the search maximises: the dev evaluations' mean success, or "
                   "their mean episode return (RL Zoo's objective), which still ranks trials "
                   "whose budget is too small for any to succeed (default: success)")
    p.add_argument("--env-kwargs", nargs="*", metavar="KEY=VALUE", default=[],
                   help="env settings of every run, e.g. observation=objects "
                   "observe_friction=true")
    p.add_argument("--hyperparams", nargs="*", metavar="KEY=VALUE", default=[],
                   help="fixed hyperparameters under the sampled ones, e.g. frame_stack=4")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    _add_common_run_args(p)

    p = sub.add_parser("plan", help="run the model-based planner on N scenarios or maps",
                       description="Run the model-based planner; writes episodes.csv and "
                                   "summary.json like an RL run.")
    p.add_argument("env", metavar="ENV", help=env_help)
    p.add_argument("--episodes", type=int, default=20,
                   help="scenarios (moon) or drives (city) (default: 20)")
    p.add_argument("--split", choices=["train", "new"], default="train")
    p.add_argument("--target", default=None,
                   help="the task, in worlds that have a choice (moon: soi | flyby | landing)")
    p.add_argument("--max-trials", type=int, default=None,
                   help="trials allowed per scenario in worlds that replay scenarios "
                   "(default: the world's, 5 launches for moon)")
    p.add_argument("--options", nargs="*", metavar="KEY=VALUE", default=[],
                   help="planner options, e.g. model=first_guess (moon: patched_conic, the "
                   "default | first_guess | simulator, the oracle ablation) or "
                   "perception=oracle (the ablation with privileged state)")
    p.add_argument("--env-kwargs", nargs="*", metavar="KEY=VALUE", default=[],
                   help="env config, e.g. traffic_cars=40")
    p.add_argument("--tensorboard", action="store_true",
                   help="write TensorBoard logs into OUT/tensorboard: real trials and model "
                   "rollouts per scenario, success and death rates (needs pip install "
                   "tensorboard)")
    _add_common_run_args(p)
    _add_seed_set(p)

    p = sub.add_parser("evaluate", help="evaluate frozen agents on held-out maps",
                       description="Evaluate frozen agents: run folders, planner:WORLD, or "
                                   "module:Class (your own moonshot.agents.Agent subclass).")
    p.add_argument("runs", nargs="+", metavar="AGENT",
                   help="training or planner run folders, planner:WORLD, search:WORLD (the "
                   "simulator-search ablation), an agent the world names (NAME:WORLD, e.g. "
                   "adapt:body), or module:Class")
    p.add_argument("--env", default=None,
                   help="the world of agents that do not say (planner, module:Class)")
    p.add_argument("--split", choices=["train", "new", "both"], default="both",
                   help="where to evaluate (default: both, which also gives the gap)")
    p.add_argument("--episodes", type=int, default=50,
                   help="scenarios (moon) or drives (city) per split")
    p.add_argument("--max-trials", type=int, default=None,
                   help="real trials per scenario in worlds that replay scenarios (default: "
                   "the world's, 5 launches for moon, for an agent that corrects from a miss, "
                   "a planner; one for a frozen RL policy, which would repeat its launch)")
    p.add_argument("--env-kwargs", nargs="*", metavar="KEY=VALUE", default=[],
                   help="env settings on top of each agent's own, e.g. target=soi for "
                   "planner:moon or search:moon")
    p.add_argument("--workers", type=int, default=1,
                   help="processes evaluating (agent, split) pairs side by side, one torch "
                   "thread each; the figures do not depend on it (default: 1)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars or lines")
    _add_common_run_args(p, "runs/evaluation")
    _add_seed_set(p)

    p = sub.add_parser("compare", help="sample-efficiency table and learning curves",
                       description="Compare runs from their episodes.csv files.")
    p.add_argument("runs", nargs="+", metavar="DIR", help="run folders with episodes.csv")
    p.add_argument("--out", default="runs/compare", help="output folder")
    p.add_argument("--window", type=int, default=100,
                   help="episodes in the rolling success rate (default: 100)")

    p = sub.add_parser("render", help="render episodes to GIF or MP4",
                       description="Render episodes of an agent to a GIF or MP4 file.")
    p.add_argument("env", metavar="ENV", help=env_help)
    p.add_argument("--agent", default="planner",
                   help="'planner', a training run folder, pretrained:NAME, or module:Class "
                   "(default: planner)")
    p.add_argument("--split", choices=["train", "new"], default="train")
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--fps", type=int, default=None,
                   help="frames per second (default: the world's)")
    p.add_argument("--view", default=None,
                   help="the world's view (city: top, the default, top-down around the car; "
                   "or chase, 3D from behind and above it)")
    p.add_argument("--no-progress", action="store_true", help="no progress display")
    _add_common_run_args(p)

    p = sub.add_parser(
        "shift", help="the generalization ladder: agents along a world's shift axes",
        description="Evaluate agents along the world's shift axes, one axis at a time, every "
                    "level (0 = the training distribution), on the same scenarios; writes "
                    "shift.csv (axis, level, agent, success with its 95% CI, deaths, real and "
                    "imagined trials), shift.png and report.md/html.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("env", metavar="ENV", help=env_help)
    p.add_argument("--agent", action="append", required=True, metavar="AGENT",
                   help="an agent (repeat the flag for several): planner, planner:WORLD:"
                   "options, an agent the world names (NAME:WORLD:options, e.g. adapt:body), "
                   "a run folder, or module:Class")
    p.add_argument("--axis", nargs="+", default=None,
                   help="axes to walk (default: all of the world's); a+b+c walks several "
                   "together, level k of each (e.g. friction+traffic+vehicle)")
    p.add_argument("--level", nargs="+", type=int, default=None,
                   help="levels to evaluate (default: every level of each axis)")
    p.add_argument("--episodes", type=int, default=50,
                   help="scenarios (moon) or drives (city) per level and agent (default: 50)")
    p.add_argument("--max-trials", type=int, default=None,
                   help="real trials per scenario in worlds that replay scenarios (default: "
                   "the world's, 5 launches for moon, for an agent that corrects from a miss, "
                   "a planner; one for a frozen RL policy, which would repeat its launch)")
    p.add_argument("--env-kwargs", nargs="*", metavar="KEY=VALUE", default=[],
                   help="env settings for every agent, e.g. target=soi")
    p.add_argument("--workers", type=int, default=1,
                   help="processes evaluating (level, agent) cells side by side, one torch "
                   "thread each; the figures do not depend on it (default: 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_common_run_args(p, "runs/shift")
    _add_seed_set(p)

    p = sub.add_parser(
        "sweep", help="a grid of runs on Ray (local by default, a cluster with --address)",
        description="Expand SPEC.yaml into cells (agents x seeds x env settings), run each "
                    "cell (a train or plan run, then its evaluations) as a Ray task, and "
                    "aggregate every cell into one table with 95% CIs over seeds, plots and "
                    "report.md/html. Workers send their cell folders to the driver, so a "
                    "cluster needs no shared disk; a cell whose worker dies is retried and "
                    "resumes from its last checkpoint.",
        epilog=schema_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", metavar="SPEC.yaml",
                   help="the sweep spec: a file, or the name of a shipped one (e.g. "
                   "moon-transfer; a wrong name lists them)")
    p.add_argument("--out", required=True, help="the sweep folder (cells/, report.md, ...)")
    p.add_argument("--address", default=None,
                   help="join a running Ray cluster (auto, HOST:PORT or ray://HOST:PORT); "
                   "default: start Ray on this machine")
    p.add_argument("--resume", action="store_true",
                   help="continue the sweep in --out: finished cells are skipped, unfinished "
                   "ones resume from their last checkpoint")
    p.add_argument("--dry-run", action="store_true",
                   help="check the spec and list the cells, run nothing")
    p.add_argument("--num-cpus", type=int, default=None,
                   help="CPUs of the local Ray (default: all of this machine's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_seed_set(p, None)

    p = sub.add_parser(
        "migrate", help="convert the pickles of run folders written by an older moonshot",
        description="Convert trainer states, normalization statistics and replay buffers that "
                    "an older moonshot saved as pickles (state_N.pkl, vecnormalize*.pkl, "
                    "replay_buffer_N.pkl) in DIR and every folder below it into the .npz "
                    "files moonshot loads now. Converting loads the pickles, and loading a "
                    "pickle runs any code it holds: without --trust the files are only "
                    "listed. See docs/security.md.")
    p.add_argument("dir", metavar="DIR", help="a run folder, or a folder of them (a sweep)")
    p.add_argument("--trust", action="store_true",
                   help="load the pickles (only for folders you trust: they may run code)")

    sub.add_parser("pretrained", help="list the pretrained agents shipped (pretrained:NAME)",
                   description="The RL agents shipped in the package: give one to any "
                   "command that takes an agent as pretrained:NAME (from any folder).")

    p = sub.add_parser("benchmark", help="throughput of the environments and planners",
                       description="Measure env and planner throughput next to peers.")
    p.add_argument("--quick", action="store_true", help="a smoke-sized run (< 1 minute)")
    p.add_argument("--out", default="runs/benchmark", help="output folder")
    return parser


def _worlds() -> list[World]:
    from .worlds import worlds

    return worlds()


def _load_plugins_for_help(argv: list[str]) -> None:
    """Help lists the plug-in worlds too; a broken plug-in is said when a command uses it."""
    if not {"-h", "--help"} & set(argv):
        return
    from .worlds import load_plugins

    for error in load_plugins():
        print(f"moonshot: warning: world plug-in not loaded: {error}", file=sys.stderr)


def _version() -> str:
    from . import __version__

    return f"moonshot {__version__}"


def _dispatch(args: argparse.Namespace) -> int:
    from . import commands

    commands.check_out(args.command, getattr(args, "out", None))
    handler = getattr(commands, f"cmd_{args.command}", None)
    if handler is None:
        raise NotBuiltYet(f"`moonshot {args.command}` is part of the documented interface but "
                          "is not built in this version yet")
    return int(handler(args) or 0)


def main(argv: list[str] | None = None) -> int:
    from .runlog import RunFolderBusy

    _load_plugins_for_help(sys.argv[1:] if argv is None else argv)
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
    except (ValueError, FileNotFoundError, OSError, RunFolderBusy) as exc:
        print(f"moonshot: error: {exc}", file=sys.stderr)  # unwrapped: paths stay whole
        if getattr(exc, "errno", None) == 28:  # ENOSPC: what was written is whole (atomic)
            print("moonshot: the disk is full; free some space and run the same command with "
                  "--resume: the checkpoint and the logs written so far are kept",
                  file=sys.stderr)
        return 2
    except RuntimeError as exc:
        if type(exc).__name__ != "SweepFailed":
            raise
        print(f"moonshot: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
