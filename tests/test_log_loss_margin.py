"""1.3(b): the log loss is the hinge averaged over a margin with the standard logistic law.

With :math:`M` logistic, :math:`\\mathbb{E}_M[M + u]^+ = \\operatorname{softplus}(u)`
and the gradient weight :math:`\\sigma(u)` is :math:`\\Pr(M > \\text{gap})`,
:math:`\\text{gap} = -u` (docstring of :func:`ebm_utils.losses.log_loss`).  The same
representation gives the tempered softplus :math:`s_\\beta` with margins of spread :math:`1/\\beta`.
"""
from __future__ import annotations

import math

import torch

from ebm_utils.losses import log_loss, tempered_softplus

MARGINS = torch.linspace(-60.0, 60.0, 120_001, dtype=torch.float64)  # step 1e-3
U = torch.linspace(-8.0, 8.0, 33, dtype=torch.float64)
LOGISTIC = torch.sigmoid(MARGINS) * torch.sigmoid(-MARGINS)


def _average_hinge(density: torch.Tensor) -> torch.Tensor:
    """E_M [M + u]^+ for every u of U, by the trapezoid rule."""
    return torch.trapezoid(torch.relu(MARGINS + U[:, None]) * density, MARGINS, dim=1)


def _log_loss(u: torch.Tensor) -> torch.Tensor:
    return log_loss(u, torch.zeros_like(u), reduction="none")


def test_log_loss_is_the_hinge_averaged_over_logistic_margins():
    # trapezoid error: (step^2 / 12) times the curvature, and one kink per row: far below 1e-6
    assert torch.allclose(_average_hinge(LOGISTIC), _log_loss(U), rtol=1e-6, atol=1e-9)


def test_another_margin_law_gives_another_loss():
    # normal margins with mean 0, at unit spread and at the logistic's spread pi / sqrt(3)
    for scale in (1.0, math.pi / math.sqrt(3.0)):
        normal = torch.exp(-0.5 * (MARGINS / scale) ** 2) / (scale * math.sqrt(2 * math.pi))
        assert not torch.allclose(_average_hinge(normal), _log_loss(U), rtol=1e-3, atol=1e-6)


def test_the_weight_is_the_probability_that_the_margin_exceeds_the_gap():
    u = U.clone().requires_grad_(True)
    (weight,) = torch.autograd.grad(_log_loss(u).sum(), u)
    above_gap = (MARGINS[:, None] > -U[None, :]).double()  # M > gap, gap = -u
    prob = torch.trapezoid(LOGISTIC[:, None] * above_gap, MARGINS, dim=0)
    assert torch.allclose(weight, prob, atol=1e-3)  # the step of the indicator costs one grid step
    assert not torch.allclose(weight, 1 - prob, atol=1e-3)  # the complementary event is refused


def test_the_tempered_softplus_takes_logistic_margins_of_spread_one_over_beta():
    # 1.3(b): phi(u) = E_M [M + u]^+ with Pr(M <= t) = 1 - phi'(-t); for s_beta, phi' = sigma(beta u)
    for beta in (0.5, 3.0):
        density = beta * torch.sigmoid(beta * MARGINS) * torch.sigmoid(-beta * MARGINS)
        expected = tempered_softplus(U, beta)
        assert torch.allclose(_average_hinge(density), expected, rtol=1e-5, atol=1e-9)
        assert not torch.allclose(_average_hinge(LOGISTIC), expected, rtol=1e-3, atol=1e-6)  # spread 1 refused

