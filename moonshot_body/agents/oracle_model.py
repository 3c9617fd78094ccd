"""The body planner's *oracle* model: the true body, damage and payload included, read from
the env's ``oracle`` view. A labelled ablation (``planner:body:model=oracle``), never a
headline: it shows what the planner would do if it knew what no sensor of the body says."""

from __future__ import annotations

from typing import Any

from ..anatomy import Changes


def true_changes(view: Any) -> Changes:
    """The changes of the true body, from an ``oracle`` perception view."""
    if getattr(view, "mode", None) != "oracle":
        raise ValueError("the oracle model needs the oracle perception view")
    return Changes(**dict(view.changes))
