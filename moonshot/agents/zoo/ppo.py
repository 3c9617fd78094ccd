"""RL Zoo's ``-conf moonshot.agents.zoo.ppo``: moonshot's ppo defaults keyed by env id."""

from . import zoo_hyperparams

hyperparams = zoo_hyperparams("ppo")
