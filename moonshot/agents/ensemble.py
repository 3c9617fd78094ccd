"""A probabilistic ensemble of small MLPs (PETS, Chua et al. 2018) and the cross-entropy
method over it, world-agnostic and batched in torch.

Each member predicts a Gaussian (mean and log-variance per output) and is trained with the
Gaussian negative log-likelihood on its own bootstrap of the data; the members' disagreement
is the model's epistemic uncertainty, their variances the aleatoric one. The members live in
stacked weight tensors (``(members, in, out)``), so a forward pass of every member over a batch
of candidates is a few batched matrix products, no Python loop per member or sample.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn


class Ensemble(nn.Module):
    """``members`` MLPs ``inputs -> hidden x layers -> (mean, log-variance) x outputs``.

    Inputs and outputs are normalized by statistics of the training data (:meth:`fit` sets
    them); :meth:`forward` takes and returns raw units.
    """

    # the normalization statistics, registered as buffers (saved with the weights)
    x_mean: torch.Tensor
    x_std: torch.Tensor
    y_mean: torch.Tensor
    y_std: torch.Tensor

    def __init__(self, inputs: int, outputs: int, members: int = 5, hidden: int = 128,
                 layers: int = 3, generator: torch.Generator | None = None):
        super().__init__()
        self.inputs, self.outputs, self.members = inputs, outputs, members
        sizes = [inputs] + [hidden] * layers + [2 * outputs]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            w = torch.randn(members, a, b, generator=generator) * (1.0 / a) ** 0.5
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.zeros(members, 1, b)))
        self.max_logvar = nn.Parameter(torch.full((1, 1, outputs), 0.5))
        self.min_logvar = nn.Parameter(torch.full((1, 1, outputs), -8.0))
        for name, size in (("x_mean", inputs), ("x_std", inputs), ("y_mean", outputs),
                           ("y_std", outputs)):
            self.register_buffer(name, torch.zeros(size) if "mean" in name
                                 else torch.ones(size))

    def _normalized(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: (members, batch, inputs) normalized; returns normalized mean, logvar."""
        h = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = nn.functional.silu(h)
        mean, logvar = h[..., :self.outputs], h[..., self.outputs:]
        logvar = self.max_logvar - nn.functional.softplus(self.max_logvar - logvar)
        logvar = self.min_logvar + nn.functional.softplus(logvar - self.min_logvar)
        return mean, logvar

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every member on ``x`` (batch, inputs): mean and std, (members, batch, outputs),
        in raw units."""
        xn = ((x - self.x_mean) / self.x_std).expand(self.members, -1, -1)
        mean, logvar = self._normalized(xn)
        return mean * self.y_std + self.y_mean, torch.exp(0.5 * logvar) * self.y_std

    def forward_each(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Member ``m`` on its own inputs ``x[m]`` (``x``: (members, batch, inputs)): mean
        and std, (members, batch, outputs), in raw units - trajectory sampling (PETS's
        TS-infinity), where each imagined trajectory keeps to one member."""
        mean, logvar = self._normalized((x - self.x_mean) / self.x_std)
        return mean * self.y_std + self.y_mean, torch.exp(0.5 * logvar) * self.y_std

    def numpy_means(self) -> Callable[[np.ndarray], np.ndarray]:
        """A frozen copy of :meth:`forward_each`'s means in numpy (float64): member ``m`` on
        ``x[m]``, (members, batch, inputs) -> (members, batch, outputs). For a planner's
        rollouts of a few dozen candidates, where torch's per-operation overhead costs more
        than the arithmetic."""
        layers = [(w.detach().numpy().astype(np.float64), b.detach().numpy().astype(np.float64))
                  for w, b in zip(self.weights, self.biases, strict=True)]
        x_mean, x_std, y_mean, y_std = (getattr(self, k).numpy().astype(np.float64)
                                        for k in ("x_mean", "x_std", "y_mean", "y_std"))
        outputs, last = self.outputs, len(layers) - 1

        def means(x: np.ndarray) -> np.ndarray:
            h = (x - x_mean) / x_std
            for i, (w, b) in enumerate(layers):
                h = np.matmul(h, w) + b
                if i < last:
                    h = h / (1.0 + np.exp(-h))  # SiLU
            return h[..., :outputs] * y_std + y_mean

        return means

    def fit(self, x: np.ndarray, y: np.ndarray, steps: int, rng: np.random.Generator,
            batch: int = 256, lr: float = 1e-3, weight_decay: float = 1e-5) -> float:
        """Train on ``(x, y)`` (each member on its own bootstrap) for ``steps`` gradient
        steps from the current weights; returns the last mean loss. ``rng`` draws the
        bootstraps and minibatches (seeded by the caller: a refit repeats exactly)."""
        x_t = torch.as_tensor(x, dtype=torch.float32)
        y_t = torch.as_tensor(y, dtype=torch.float32)
        self.x_mean.copy_(x_t.mean(0))
        self.x_std.copy_(_scale(x_t))
        self.y_mean.copy_(y_t.mean(0))
        self.y_std.copy_(_scale(y_t))
        xn, yn = (x_t - self.x_mean) / self.x_std, (y_t - self.y_mean) / self.y_std
        n = len(x_t)
        boot = rng.integers(0, n, size=(self.members, n))
        opt = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)
        loss_value = float("nan")
        for _ in range(steps):
            pick = boot[np.arange(self.members)[:, None],
                        rng.integers(0, n, size=(self.members, min(batch, n)))]
            idx = torch.as_tensor(pick)
            mean, logvar = self._normalized(xn[idx])
            nll = ((mean - yn[idx]) ** 2 * torch.exp(-logvar) + logvar).mean()
            loss = nll + 0.01 * (self.max_logvar.sum() - self.min_logvar.sum())
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_value = float(nll.detach())
        return loss_value

    def arrays(self) -> dict[str, np.ndarray]:
        """The weights and statistics as plain arrays (saved as ``.npz``)."""
        return {k: v.detach().cpu().numpy() for k, v in self.state_dict().items()}

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in arrays.items()})


def _scale(a: torch.Tensor) -> torch.Tensor:
    """Per-column standard deviations for normalization; 1 for a column the data hold
    constant (a speed limit the training maps share, a weather never seen): dividing by its
    near-zero spread would blow a value it has not seen up by a million."""
    if len(a) < 2:
        return torch.ones(a.shape[1])
    std = a.std(0)
    return torch.where(std < 1e-6, torch.ones_like(std), std)


def cem(score, dims: int, generator: torch.Generator, population: int = 400,
        iterations: int = 5, elites: int = 40, first: int = 1000,
        alpha: float = 0.1, seeds: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    """The cross-entropy method over the box ``[-1, 1]^dims``: ``first`` uniform candidates
    (after the given ``seeds``, (k, dims), if any), then ``iterations`` Gaussian refinements
    around the elites. ``score(candidates)`` (batch, dims) -> (batch,) higher is better.
    Returns the best candidate seen and the number of candidates scored."""
    cand = torch.rand(first, dims, generator=generator) * 2 - 1
    if seeds is not None:
        cand = torch.cat([seeds.to(cand.dtype), cand])
    scores = score(cand)
    best_x, best_s = cand[int(torch.argmax(scores))], float(scores.max())
    count = len(cand)
    top = cand[torch.topk(scores, elites).indices]
    mean, std = top.mean(0), top.std(0).clamp_min(0.02)
    for _ in range(iterations):
        cand = (mean + std * torch.randn(population, dims, generator=generator)).clamp(-1, 1)
        scores = score(cand)
        count += population
        k = int(torch.argmax(scores))
        if float(scores[k]) > best_s:
            best_x, best_s = cand[k], float(scores[k])
        top = cand[torch.topk(scores, elites).indices]
        mean = alpha * mean + (1 - alpha) * top.mean(0)
        std = (alpha * std + (1 - alpha) * top.std(0)).clamp_min(0.005)
    return best_x, count
