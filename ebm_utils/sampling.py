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
(:func:`negative_phase_variance`).  Inverse-CDF draws (:func:`sample_labels`)
and Gumbel-max draws (:func:`gumbel_max_labels`) look at all ``n`` energies;
rejection from a known lower bound on the energy (:func:`rejection_labels`)
draws exactly without the partition function, at a cost set by how tight the
bound is.  :func:`metropolis_labels` draws labels with a Metropolis chain that
only evaluates the energies it visits, at the price of a bias when the chain
is short.

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
    n = e.shape[0]
    return chain_distribution(e, steps, beta, start=torch.full((n,), 1.0 / n, dtype=e.dtype))


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
        evals += labels.numel()
        return _label_energies(energy_of, labels)

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


# ---------------------------------------------------------------------------
# Page 1.2(iii) and the exercises of chapter 1.2: exact draws without the
# partition function (rejection from a lower bound on the energy, the
# Gumbel-max trick), a chain started at the data label (contrastive
# divergence), and a goodness-of-fit test for draws of labels.
import math  # noqa: E402

from ._validation import _as_float, check_callable  # noqa: E402

__all__ += [
    "gumbel_max_labels",
    "rejection_labels",
    "rejection_cost",
    "metropolis_transition",
    "chain_distribution",
    "chi_square_z",
]


def gumbel_max_labels(
    energies: Tensor,
    num_samples: int,
    beta: float = 1.0,
    *,
    stream: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Exact draws from :math:`p(y \mid x)` by the Gumbel-max trick, without normalising.

    Each draw is :math:`\arg\max_{y'} \bigl(-\beta F_W(x, y') + G_{y'}\bigr)`
    with independent standard Gumbel noise :math:`G_{y'} = -\log E_{y'}`,
    :math:`E_{y'} \sim \operatorname{Exp}(1)` (Maddison et al. 2014).  The
    partition function is never formed, but every draw compares all ``n``
    perturbed energies, so all ``n`` must be evaluated.  Shapes as in
    :func:`sample_labels`: ``[n]`` gives ``[num_samples]``, ``[B, n]`` gives
    ``[B, num_samples]``.  Page 1.2(iii); the proof is an exercise of 1.2.
    """
    e = check_float_tensor(energies, "energies")
    if e.dim() not in (1, 2) or e.shape[-1] < 1:
        raise ValueError(f"energies must have shape [n] or [B, n], got {tuple(e.shape)}")
    if not bool(torch.isfinite(e).all()):
        raise ValueError("energies must be finite")
    k = check_int(num_samples, "num_samples")
    b = float(check_beta(beta))
    g = _rng(stream, generator)
    logits = (-b * e.detach()).unsqueeze(-2)
    rows = math.prod(e.shape[:-1])
    chunk = max(1, (1 << 22) // (rows * e.shape[-1]))  # about 4M noise values at a time
    out = []
    for start in range(0, k, chunk):
        m = min(chunk, k - start)
        exp1 = torch.empty((*e.shape[:-1], m, e.shape[-1]), dtype=e.dtype).exponential_(generator=g)
        out.append(torch.argmax(logits - torch.log(exp1), dim=-1))
    return torch.cat(out, dim=-1)


def rejection_labels(
    energy_of: Callable[[Tensor], Tensor],
    n_labels: int,
    lower_bound: float,
    num_samples: int,
    beta: float = 1.0,
    *,
    stream: int = 0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, int]:
    r"""Exact draws from :math:`p(y \mid x) \propto e^{-\beta F(y)}` by rejection, without :math:`Z`.

    Von Neumann's method (1951) with the uniform proposal: draw :math:`y'`
    uniformly from the ``n`` labels, evaluate its one energy, and accept it
    with probability :math:`e^{-\beta (F(y') - F_{\mathrm{low}})} \le 1`.
    It needs a *lower bound* :math:`F_{\mathrm{low}} \le \min_y F(y)`, never
    the partition function.  Accepted labels are independent exact draws from
    :math:`p`; each costs on average

    .. math::
        \frac{n\, e^{-\beta F_{\mathrm{low}}}}{Z}
        = \Bigl(\frac1n \sum_{y'} e^{-\beta (F(y') - F_{\mathrm{low}})}\Bigr)^{-1}

    energy evaluations (:func:`rejection_cost`): close to 1 when the energies
    lie just above the bound, and :math:`e^{\beta \delta}` times larger when
    the bound is loose by :math:`\delta`.

    ``energy_of(labels)`` returns the energies of a tensor of labels.  The
    proposals are made in batches, but the count is that of the sequential
    sampler: proposals after the last needed acceptance are not counted.
    Returns the labels (shape ``[num_samples]``, in order of acceptance) and
    the number of energy evaluations.  Raises ``ValueError`` if an evaluated
    energy lies below ``lower_bound``: the draws would not be exact.
    """
    energy_of = check_callable(energy_of, "energy_of")
    n = check_int(n_labels, "n_labels")
    low = _as_finite(lower_bound, "lower_bound")
    k = check_int(num_samples, "num_samples")
    b = float(check_beta(beta))
    g = _rng(stream, generator)
    accepted: list[Tensor] = []
    have, evals = 0, 0
    while have < k:
        # propose about 1.25 times what the acceptance rate seen so far needs (64 at least)
        rate = have / evals if have else (0.5 if not evals else 0.5 / evals)
        batch = min(max(64, math.ceil(1.25 * (k - have) / rate)), 1 << 20)
        proposal = torch.randint(0, n, (batch,), generator=g)
        f = _label_energies(energy_of, proposal).to(torch.float64)
        if not bool(torch.isfinite(f).all()):
            raise ValueError("energy_of returned a non-finite energy")
        if bool((f < low).any()):
            raise ValueError(
                f"an energy {float(f.min()):.6g} lies below lower_bound={low:.6g}: "
                "the bound is wrong and the draws would not be exact"
            )
        u = torch.rand(batch, generator=g, dtype=torch.float64)
        ok = torch.log(u) < -b * (f - low)  # accept with probability exp(-beta (F - F_low))
        idx = torch.nonzero(ok).flatten()
        need = k - have
        if idx.numel() >= need:
            evals += int(idx[need - 1]) + 1  # the sequential sampler stops here
            accepted.append(proposal[idx[:need]])
            have = k
        else:
            evals += batch
            accepted.append(proposal[idx])
            have += idx.numel()
    return torch.cat(accepted), evals


def rejection_cost(energies: Tensor, lower_bound: float, beta: float = 1.0) -> float:
    r"""Expected energy evaluations per draw of :func:`rejection_labels`: :math:`n e^{-\beta F_{\mathrm{low}}} / Z`.

    ``energies`` are all ``n`` energies (shape ``[n]``); this is a tool to
    *predict* the cost, not part of the sampler.  Computed as
    :math:`1 / \operatorname{mean}_{y'} e^{-\beta (F(y') - F_{\mathrm{low}})}`
    in log-sum-exp form.
    """
    e = _check_energies_1d(energies)
    low = _as_finite(lower_bound, "lower_bound")
    b = float(check_beta(beta))
    if bool((e < low).any()):
        raise ValueError("lower_bound must not exceed the smallest energy")
    n = e.shape[0]
    return math.exp(math.log(n) - float(torch.logsumexp(-b * (e.detach() - low), dim=0)))


def metropolis_transition(energies: Tensor, beta: float = 1.0) -> Tensor:
    r"""The transition matrix of the Metropolis chain of :func:`metropolis_labels`.

    :math:`T_{yy'} = \frac1n \min\bigl(1, e^{-\beta (F_{y'} - F_y)}\bigr)` for
    :math:`y' \ne y`, and the rest of each row on the diagonal.  Row ``y`` is
    the distribution of the next state from ``y``.  The Gibbs distribution is
    stationary (detailed balance); page 1.2(iii) uses the matrix to compute
    exactly the distribution of a short chain.
    """
    e = _check_energies_1d(energies)
    b = float(check_beta(beta))
    n = e.shape[0]
    t = torch.exp(torch.clamp(-b * (e[None, :] - e[:, None]), max=0.0)) / n
    t.fill_diagonal_(0.0)
    return t + torch.diag(1.0 - t.sum(1))


def chain_distribution(energies: Tensor, steps: int, beta: float = 1.0, *, start: int | Tensor) -> Tensor:
    r"""The exact distribution of the Metropolis chain after ``steps`` steps from ``start``.

    ``start`` is a label (the chain starts there, as contrastive divergence
    starts at the data label) or a probability vector over the ``n`` labels.
    Returns :math:`q_s = q_0^\top T^s` (:func:`metropolis_transition`).
    A tool to measure the bias of a truncated chain, not a sampler.
    """
    e = _check_energies_1d(energies)
    check_int(steps, "steps", minimum=0)
    n = e.shape[0]
    if isinstance(start, Tensor) and start.is_floating_point():
        q = start.detach().to(e.dtype)
        if q.shape != (n,) or bool((q < 0).any()) or abs(float(q.sum()) - 1.0) > 1e-9:
            raise ValueError(f"start must be a label or a probability vector of length {n}")
    else:
        label = check_int(int(start) if isinstance(start, Tensor) else start, "start", 0, n - 1)
        q = torch.zeros(n, dtype=e.dtype)
        q[label] = 1.0
    t = metropolis_transition(e, beta)
    for _ in range(steps):
        q = q @ t
    return q


def chi_square_z(labels: Tensor, probs: Tensor, min_expected: float = 5.0) -> float:
    r"""Pearson's :math:`\chi^2` test of draws against ``probs``, as a standard normal score.

    With counts :math:`c_j` of ``N`` draws in cells of expected count
    :math:`e_j = N p_j`, :math:`X^2 = \sum_j (c_j - e_j)^2 / e_j` has about
    :math:`\chi^2_{\nu}` distribution, :math:`\nu` = cells minus one, when the draws
    follow ``probs``; the Wilson--Hilferty transform

    .. math::
        z = \frac{(X^2 / \nu)^{1/3} - (1 - \frac{2}{9\nu})}{\sqrt{2 / (9\nu)}}

    is then close to a standard normal variable, so :math:`z > 4` happens with
    probability about :math:`3 \times 10^{-5}` under the null.  The
    approximation needs expected counts of at least ``min_expected`` (5 is the
    usual rule), so labels below it are pooled into one cell, together with the
    next smallest ones until that cell reaches it.  Raises ``ValueError`` if
    fewer than two cells remain.
    """
    p = _check_energies_1d(probs)  # a 1-D float tensor
    if p.shape[0] < 2 or bool((p < 0).any()) or abs(float(p.sum()) - 1.0) > 1e-9:
        raise ValueError("probs must be a probability vector of length >= 2")
    lab = check_int_tensor(labels, "labels").reshape(-1)
    if int(lab.min()) < 0 or int(lab.max()) >= p.shape[0]:
        raise IndexError(f"labels must lie in [0, {p.shape[0] - 1}]")
    total = lab.numel()
    expected = total * p
    counts = torch.bincount(lab, minlength=p.shape[0]).to(p.dtype)
    order = torch.argsort(expected)
    small = int((expected < min_expected).sum())
    if small:  # pool the small cells, and the next smallest until the pool reaches min_expected
        reach = int(torch.searchsorted(expected[order].cumsum(0), torch.tensor(min_expected, dtype=p.dtype)))
        pool, keep = order[: max(small, reach + 1)], order[max(small, reach + 1):]
        expected = torch.cat([expected[keep], expected[pool].sum()[None]])
        counts = torch.cat([counts[keep], counts[pool].sum()[None]])
    if expected.shape[0] < 2 or float(expected.min()) < min_expected:
        raise ValueError(f"too few draws: fewer than two cells reach the expected count {min_expected:g}")
    x2 = float(((counts - expected).square() / expected).sum())
    nu = expected.shape[0] - 1
    return ((x2 / nu) ** (1.0 / 3.0) - (1.0 - 2.0 / (9.0 * nu))) / math.sqrt(2.0 / (9.0 * nu))


def _label_energies(energy_of: Callable[[Tensor], Tensor], labels: Tensor) -> Tensor:
    """``energy_of(labels)``, checked to give one energy per label, without a graph."""
    out = energy_of(labels)
    if not isinstance(out, Tensor) or out.shape != labels.shape:
        raise ValueError("energy_of must return one energy per label, in the labels' shape")
    return out.detach()


def _as_finite(value: object, name: str) -> float:
    v = _as_float(value, name)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v
