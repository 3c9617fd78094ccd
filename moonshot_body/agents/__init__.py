"""Agents of the body world: the MPPI planner over the body's own model (:mod:`.planner`)
and its oracle ablation (:mod:`.oracle_model`)."""
