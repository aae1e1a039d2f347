r"""Sampling labels from the Gibbs distribution, and what the NLL gradient costs.

The gradient of the NLL loss (derived on page 1.2(iii)) is

.. math::
    \frac{\partial \mathcal{L}}{\partial W}
    = \frac{\partial F_W(x, y)}{\partial W}
      - \sum_{y'=1}^{n} p(y' \mid x) \frac{\partial F_W(x, y')}{\partial W},

a *positive phase* and a *negative phase*, the expectation of
:math:`\partial F_W(x, y') / \partial W` under :math:`p(y' \mid x)`.  The
negative phase can be estimated with ``k`` labels
:math:`\hat y_1, \dots, \hat y_k \sim p(\cdot \mid x)`:

.. math::
    \frac{1}{k} \sum_{i=1}^{k} \frac{\partial F_W(x, \hat y_i)}{\partial W},

unbiased, with mean squared error :math:`\operatorname{tr}\Sigma / k`
(:func:`negative_phase_variance`).  Drawing the labels *exactly* needs the
probabilities, hence all ``n`` energies; what the estimate saves is gradient
evaluations (``1 + k`` instead of ``n``).  :func:`metropolis_labels` draws
labels with a Metropolis chain that only evaluates the energies it visits,
at the price of a bias when the chain is short.

Counts of energy and gradient evaluations are returned as
:class:`ebm_utils.costs.EvalCount`; the models (:mod:`ebm_utils.energies`) do
the counting.

Every sampler draws from :func:`ebm_utils.seeding.generator` ``(stream)``, or
from a ``generator`` the page passes to continue one stream over several calls.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from . import seeding
from ._validation import check_beta, check_float_tensor, check_generator, check_instance, check_int, check_int_tensor
from .costs import EvalCount
from .energies import LabelEnergy
from .losses import gibbs_distribution, nll_loss

__all__ = [
    "sample_labels",
    "negative_phase",
    "negative_phase_mc",
    "negative_phase_variance",
    "nll_gradient_exact",
    "nll_gradient_sampled",
    "metropolis_labels",
    "metropolis_distribution",
]


def _rng(stream: int, generator: torch.Generator | None) -> torch.Generator:
    """The generator to draw from: the page's own ``generator``, else stream ``stream`` of the book seed."""
    if check_generator(generator) is not None:
        if stream != 0:
            raise ValueError("pass either a stream or a generator, not both")
        return generator
    return seeding.generator(stream)


def sample_labels(
    energies: Tensor,
    num_samples: int,
    beta: float = 1.0,
    *,
    stream: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""``num_samples`` independent exact draws from :math:`p(y \mid x) = \operatorname{softmax}(-\beta F)_y`.

    ``energies`` has shape ``[n]`` or ``[B, n]`` (all ``n`` energies are
    needed: the probabilities are normalised by their sum).  Returns integer
    labels of shape ``[num_samples]`` or ``[B, num_samples]``.  Page 1.2(i)
    defines the distribution, page 1.2(iii) uses the draws.
    """
    e = check_float_tensor(energies, "energies")
    if e.dim() not in (1, 2) or e.shape[-1] < 1:
        raise ValueError(f"energies must have shape [n] or [B, n], got {tuple(e.shape)}")
    if not bool(torch.isfinite(e).all()):
        raise ValueError("energies must be finite")
    k = check_int(num_samples, "num_samples")
    g = _rng(stream, generator)
    p = gibbs_distribution(e.detach(), beta=beta)
    # inverse-CDF sampling: label = number of cumulative probabilities <= u
    cdf = p.cumsum(-1)
    u = torch.rand(*p.shape[:-1], k, generator=g, dtype=p.dtype)
    u = u * cdf[..., -1:]  # the last cumulative sum may differ from 1 by rounding
    labels = torch.searchsorted(cdf.contiguous(), u.contiguous(), right=True)
    return labels.clamp_(max=e.shape[-1] - 1)


def _check_label_grads(label_grads: object, n: int | None = None) -> Tensor:
    g = check_float_tensor(label_grads, "label_grads")
    if g.dim() != 2:
        raise ValueError(f"label_grads must have shape [n, P] (one gradient per label), got {tuple(g.shape)}")
    if n is not None and g.shape[0] != n:
        raise ValueError(f"label_grads has {g.shape[0]} rows but there are {n} energies")
    return g


def _check_energies_1d(energies: object) -> Tensor:
    e = check_float_tensor(energies, "energies")
    if e.dim() != 1:
        raise ValueError(f"energies must have shape [n], got {tuple(e.shape)}")
    return e


def negative_phase(label_grads: Tensor, energies: Tensor, beta: float = 1.0) -> Tensor:
    r"""The exact negative phase :math:`\sum_{y'} p(y' \mid x)\, \partial F_W(x, y') / \partial W`.

    ``label_grads[y']`` is :math:`\partial F_W(x, y') / \partial W` (shape
    ``[n, P]``), ``energies`` the ``n`` energies.  Returns shape ``[P]``.
    """
    e = _check_energies_1d(energies)
    g = _check_label_grads(label_grads, e.shape[0])
    return gibbs_distribution(e, beta=beta) @ g


def negative_phase_mc(label_grads: Tensor, labels: Tensor) -> Tensor:
    r"""The Monte Carlo estimate :math:`\frac1k \sum_i \partial F_W(x, \hat y_i) / \partial W`.

    ``labels`` of shape ``[k]`` gives one estimate (shape ``[P]``); shape
    ``[R, k]`` gives ``R`` independent estimates (shape ``[R, P]``).
    """
    g = _check_label_grads(label_grads)
    check_int_tensor(labels, "labels")
    if labels.dim() not in (1, 2) or labels.shape[-1] < 1:
        raise ValueError(f"labels must have shape [k] or [R, k], got {tuple(labels.shape)}")
    if int(labels.min()) < 0 or int(labels.max()) >= g.shape[0]:
        raise IndexError(f"labels must lie in [0, {g.shape[0] - 1}]")
    # mean of the k selected rows, via label counts: memory [R, n], not [R, k, P]
    lab = labels if labels.dim() == 2 else labels[None]
    counts = torch.zeros(lab.shape[0], g.shape[0], dtype=g.dtype)
    counts.scatter_add_(1, lab.long(), torch.ones(lab.shape, dtype=g.dtype))
    est = (counts / lab.shape[1]) @ g
    return est if labels.dim() == 2 else est[0]


def negative_phase_variance(label_grads: Tensor, energies: Tensor, beta: float = 1.0) -> float:
    r"""The total variance :math:`\operatorname{tr}\Sigma = \sum_{y'} p(y')\, \lVert g_{y'} - \bar g \rVert^2` of one sampled gradient.

    With ``k`` independent exact samples, the estimate of
    :func:`negative_phase_mc` has mean squared error
    :math:`\operatorname{tr}\Sigma / k`, so its root-mean-square error falls
    as :math:`k^{-1/2}` (page 1.2(iii)).
    """
    e = _check_energies_1d(energies)
    g = _check_label_grads(label_grads, e.shape[0])
    p = gibbs_distribution(e, beta=beta)
    mean = p @ g
    return float(p @ (g - mean).square().sum(-1))


def _flat_grad(out: Tensor, w: Tensor) -> Tensor:
    (grad,) = torch.autograd.grad(out, w)
    return grad


def _check_model_xy(model: object, w: Tensor, x: Tensor, y: object) -> tuple[Tensor, int]:
    check_instance(model, LabelEnergy, "model")
    if not isinstance(x, Tensor) or x.dim() != 1:
        raise ValueError("x must be a single input of shape [d]")
    if isinstance(y, Tensor):
        y = int(y)
    y = check_int(y, "y", 0, model.n_labels - 1)
    return w.detach().clone().requires_grad_(True), y


def nll_gradient_exact(
    model: LabelEnergy, w: Tensor, x: Tensor, y: int, beta: float = 1.0
) -> tuple[Tensor, EvalCount]:
    r"""The exact gradient of :math:`\mathcal{L}_{\text{nll}}` for one pair :math:`(x, y)`, with its cost.

    Evaluates all ``n`` energies with a graph and backpropagates through all
    of them: ``n`` energy and ``n`` gradient evaluations.
    """
    wg, y = _check_model_xy(model, w, x, y)
    beta = check_beta(beta)
    before = (model.energy_evals, model.graph_evals)
    energies = model.energies(wg, x[None])[0]
    loss = nll_loss(energies, torch.tensor(y), beta=beta)
    grad = _flat_grad(loss, wg)
    return grad, EvalCount(model.energy_evals - before[0], model.graph_evals - before[1])


def nll_gradient_sampled(
    model: LabelEnergy,
    w: Tensor,
    x: Tensor,
    y: int,
    num_samples: int,
    beta: float = 1.0,
    *,
    stream: int = 0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, EvalCount]:
    r"""The sampled gradient :math:`\partial F(x, y)/\partial W - \frac1k \sum_i \partial F(x, \hat y_i)/\partial W`, with its cost.

    The labels :math:`\hat y_i` are drawn exactly from :math:`p(\cdot \mid x)`,
    which takes all ``n`` energies (without a graph); the energies of ``y`` and
    the ``k`` samples are then evaluated again with a graph and
    backpropagated: ``n + 1 + k`` energy and ``1 + k`` gradient evaluations.
    """
    wg, y = _check_model_xy(model, w, x, y)
    beta = check_beta(beta)
    k = check_int(num_samples, "num_samples")
    g = _rng(stream, generator)
    before = (model.energy_evals, model.graph_evals)
    with torch.no_grad():
        all_energies = model.energies(wg, x[None])[0]
    samples = sample_labels(all_energies, k, beta=float(beta), generator=g)
    labels = torch.cat([torch.tensor([y]), samples])
    f = model(wg, x[None], labels)  # one input, 1 + k labels
    surrogate = f[0] - f[1:].mean()
    grad = _flat_grad(surrogate, wg)
    return grad, EvalCount(model.energy_evals - before[0], model.graph_evals - before[1])


def metropolis_distribution(
    energies: Tensor, steps: int, beta: float = 1.0
) -> Tensor:
    r"""The exact distribution of the state of :func:`metropolis_labels` after ``steps`` steps.

    The chain's transition matrix over the ``n`` labels is
    :math:`T_{yy'} = \frac1n \min(1, e^{-\beta (F_{y'} - F_y)})` for
    :math:`y' \ne y` (the rest of each row stays at :math:`y`), and the state
    after ``s`` steps from a uniform start has distribution
    :math:`u^\top T^s`.  Computing it takes all ``n`` energies: it is a tool
    to *measure* the bias of the chain (page 1.2(iii)), not a sampler.
    """
    e = _check_energies_1d(energies)
    check_int(steps, "steps", minimum=0)
    b = float(check_beta(beta))
    n = e.shape[0]
    accept = torch.exp(torch.clamp(-b * (e[None, :] - e[:, None]), max=0.0))
    t = accept / n
    t.fill_diagonal_(0.0)
    t = t + torch.diag(1.0 - t.sum(1))
    q = torch.full((n,), 1.0 / n, dtype=e.dtype)
    for _ in range(steps):
        q = q @ t
    return q


def metropolis_labels(
    energy_of: Callable[[Tensor], Tensor],
    n_labels: int,
    num_chains: int,
    steps: int,
    beta: float = 1.0,
    *,
    stream: int = 0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, int]:
    r"""Approximate draws from :math:`p(y \mid x)` by independent Metropolis chains.

    Each chain starts at a uniform random label and, ``steps`` times, proposes
    a uniform random label :math:`y'` and moves there with probability
    :math:`\min(1, e^{-\beta (F(y') - F(y))})`.  The Gibbs distribution is
    stationary for this chain, but after finitely many steps the draws are
    biased toward the uniform start.  Only visited energies are evaluated:
    ``energy_of(labels)`` must return the energies of a tensor of labels.

    Returns the final labels (shape ``[num_chains]``) and the number of
    energy evaluations, ``num_chains * (steps + 1)``.
    """
    n = check_int(n_labels, "n_labels")
    c = check_int(num_chains, "num_chains")
    check_int(steps, "steps", minimum=0)
    b = float(check_beta(beta))
    gen = _rng(stream, generator)
    evals = 0

    def energies_at(labels: Tensor) -> Tensor:
        nonlocal evals
        out = energy_of(labels)
        if not isinstance(out, Tensor) or out.shape != labels.shape:
            raise ValueError("energy_of must return one energy per label, in the labels' shape")
        evals += labels.numel()
        return out.detach()

    state = torch.randint(0, n, (c,), generator=gen)
    f_state = energies_at(state)
    for _ in range(steps):
        proposal = torch.randint(0, n, (c,), generator=gen)
        f_prop = energies_at(proposal)
        u = torch.rand(c, generator=gen, dtype=f_state.dtype)
        # accept if u < exp(-beta * dF), tested in the log domain (no overflow)
        accept = torch.log(u) < -b * (f_prop - f_state)
        state = torch.where(accept, proposal, state)
        f_state = torch.where(accept, f_prop, f_state)
    return state, evals
