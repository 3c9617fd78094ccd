"""``python -m moonshot.agents.zoo``: rewrite the shipped RL Zoo files from hyperparams.yaml."""

from . import write_files

for written in write_files():
    print(f"wrote {written}")
