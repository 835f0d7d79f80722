"""Linear probe: how much class information a frozen encoder's features hold.

The standard check of self-supervised representations: a multinomial logistic regression on the frozen
features (standardised with the training set's statistics), trained to convergence with L-BFGS, scored on
held-out samples. It is deterministic for given features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def linear_probe_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                          test_y: torch.Tensor, weight_decay: float = 1e-4, iterations: int = 200) -> float:
    """Test accuracy of a logistic regression fitted on (train_x [N, D], train_y [N])."""
    if train_x.ndim != 2 or test_x.ndim != 2 or train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"probe features must be [N, D] with one D, got {tuple(train_x.shape)} and "
                         f"{tuple(test_x.shape)}")
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ValueError("probe features and labels differ in length")
    if not (torch.isfinite(train_x).all() and torch.isfinite(test_x).all()):
        raise ValueError("probe features hold NaN or inf")
    train_x, test_x = train_x.double(), test_x.double()
    mean, std = train_x.mean(0), train_x.std(0).clamp(min=1e-8)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    classes = int(max(train_y.max(), test_y.max())) + 1
    weight = torch.zeros(train_x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], max_iter=iterations, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(train_x @ weight + bias, train_y) + weight_decay * (weight ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((test_x @ weight + bias).argmax(1) == test_y).double().mean())
