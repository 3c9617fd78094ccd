"""RL Zoo's ``-conf moonshot.agents.zoo.ppo_lstm``: moonshot's ppo_lstm defaults keyed by env id."""

from . import zoo_hyperparams

hyperparams = zoo_hyperparams("ppo_lstm")
