"""RL Zoo's ``-conf moonshot.agents.zoo.td3``: moonshot's td3 defaults keyed by env id."""

from . import zoo_hyperparams

hyperparams = zoo_hyperparams("td3")
