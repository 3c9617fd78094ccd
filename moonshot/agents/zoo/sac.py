"""RL Zoo's ``-conf moonshot.agents.zoo.sac``: moonshot's sac defaults keyed by env id."""

from . import zoo_hyperparams

hyperparams = zoo_hyperparams("sac")
