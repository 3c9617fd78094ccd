"""Agents of the body world: the MPPI planner (:mod:`.planner`) over its own model of the body
(:mod:`.body_model`, built from the blueprint's numbers), and its oracle ablation
(:mod:`.oracle_model`, the simulator's model of the true body)."""
