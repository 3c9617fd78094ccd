"""RL Zoo's ``-conf moonshot.agents.zoo.a2c``: moonshot's a2c defaults keyed by env id."""

from . import zoo_hyperparams

hyperparams = zoo_hyperparams("a2c")
