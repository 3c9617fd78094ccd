"""PPO's relearning cost after damage level 2 (dev seeds): fine-tune a BodyWalk PPO run on a
body with one shin half as long (the leg drawn per walk) until its rolling success over 100
walks is back within 5 points of its last training-split evaluation.

    python docs/data/body-ppo-relearn/relearn.py RUN OUT [TIMESTEPS]
"""

import json
import sys

import moonshot_body  # noqa: F401  (registers the body world)
from moonshot.evaluation.transfer import relearning_cost
from moonshot.worlds import get_world

run, out = sys.argv[1], sys.argv[2]
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 300_000
over = get_world("body").axis("damage").settings(2)
res = relearning_cost(run, steps, out, seed=0, split="train", env_overrides=over,
                      tolerance=0.05, progress=False)
print(json.dumps(res, indent=1))
