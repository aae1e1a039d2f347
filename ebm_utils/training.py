r"""One small training loop for every experiment in the book.

* :func:`train` runs full-batch gradient descent (SGD or Adam) on a loss
  closure and records, at every step, the loss, the gradient norm and anything
  else a page asks for.  Pages plot and assert on the returned history, so the
  training code itself is written once and tested here.  First used in 1.1(d).
* :func:`train_energy_table` trains the simplest label-energy model, a table
  :math:`F_W(x_i, y) = W_{iy}` with one free energy per example and label, with
  any loss of :data:`ebm_utils.losses.LOSSES` (pages 1.3(d)(i) and (iii)).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

import torch
from torch import Tensor

from ._validation import check_choice, check_energies_target, check_int, check_negative, check_positive
from .losses import loss_from_energies, loss_info

__all__ = ["train", "grad_norm", "train_energy_table"]


def grad_norm(params: Iterable[Tensor]) -> float:
    """Euclidean norm of all gradients together (0 for parameters without one).

    Computed with ``torch.linalg.vector_norm``, which rescales internally, so
    gradients far below ``sqrt(tiny)`` are not flushed to a false zero.
    """
    grads = [p.grad.detach().reshape(-1) for p in params if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.linalg.vector_norm(torch.cat(grads)))


class _AdamState:
    r"""The moments of one parameter tensor under Adam (Kingma and Ba, 2015).

    With gradient :math:`g_t` at step :math:`t`,
    :math:`m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t`,
    :math:`v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2` and
    :math:`\theta_t = \theta_{t-1} - \mathrm{lr}\,\frac{m_t / (1 - \beta_1^t)}
    {\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}`, with torch.optim.Adam's
    defaults :math:`\beta = (0.9, 0.999)`, :math:`\epsilon = 10^{-8}` and the
    same floating-point operations in the same order.
    """

    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def __init__(self, p: Tensor) -> None:
        self.step = 0
        self.exp_avg = torch.zeros_like(p, memory_format=torch.preserve_format)
        self.exp_avg_sq = torch.zeros_like(p, memory_format=torch.preserve_format)

    def update(self, p: Tensor, lr: float) -> None:
        """One Adam step of ``p`` in place, from ``p.grad`` (call under ``torch.no_grad()``)."""
        g = p.grad
        self.step += 1
        self.exp_avg.lerp_(g, 1 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
        step_size = lr / (1 - self.beta1**self.step)
        denom = (self.exp_avg_sq.sqrt() / (1 - self.beta2**self.step) ** 0.5).add_(self.eps)
        p.addcdiv_(self.exp_avg, denom, value=-step_size)


def train(
    params: Iterable[Tensor],
    loss_fn: Callable[[], Tensor],
    steps: int,
    lr: float,
    *,
    optimizer: Literal["sgd", "adam"] = "sgd",
    record: Callable[[], dict[str, float]] | None = None,
    every: int = 1,
) -> dict[str, list[float]]:
    """Minimise ``loss_fn()`` over ``params``; return the recorded history.

    Args:
        params: tensors with ``requires_grad=True``.
        loss_fn: closure returning a scalar loss from the current parameters.
        steps: number of updates.
        lr: learning rate.
        optimizer: ``"sgd"`` (plain gradient descent) or ``"adam"``.
        record: optional closure returning extra scalars to log (evaluated
            without gradients, before each update and after the last).
        every: log every ``every`` steps (and always the final state).

    Returns:
        ``{"step": [...], "loss": [...], "grad_norm": [...], **record()}``,
        where entry ``i`` describes the parameters *before* update ``step[i]``;
        the final entry (``step == steps``) has the trained parameters, with
        the gradient norm of the loss there.

    Raises:
        ValueError: on a non-finite loss (divergence is never silent).
    """
    params = list(params)
    if not params or not all(isinstance(p, Tensor) and p.requires_grad for p in params):
        raise ValueError("params must be a non-empty list of tensors with requires_grad=True")
    check_int(steps, "steps", minimum=0)
    check_positive(lr, "lr")
    check_int(every, "every")
    check_choice(optimizer, "optimizer", ("sgd", "adam"))
    # Both updates are written out: constructing a torch.optim optimizer
    # imports torch._dynamo, a one-off second per notebook page.  The Adam
    # update repeats torch.optim.Adam's operations one for one (its defaults,
    # CPU path); tests/test_training.py checks the trajectories are identical.
    adam = [_AdamState(p) for p in params] if optimizer == "adam" else None

    history: dict[str, list[float]] = {"step": [], "loss": [], "grad_norm": []}
    for step in range(steps + 1):
        for p in params:
            p.grad = None
        loss = loss_fn()
        if loss.dim() != 0:
            raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
        if not torch.isfinite(loss):
            raise ValueError(f"loss became {loss.item()} at step {step}")
        loss.backward()
        if step % every == 0 or step == steps:
            history["step"].append(step)
            history["loss"].append(float(loss.detach()))
            history["grad_norm"].append(grad_norm(params))
            if record is not None:
                with torch.no_grad():
                    for k, v in record().items():
                        history.setdefault(k, []).append(float(v))
        if step < steps:
            if adam is not None:
                with torch.no_grad():
                    for p, state in zip(params, adam):
                        if p.grad is not None:
                            state.update(p, lr)
            else:
                with torch.no_grad():
                    for p in params:
                        if p.grad is not None:
                            p.add_(p.grad, alpha=-lr)  # as torch.optim.SGD does
    return history


def train_energy_table(
    name: str,
    energies0: Tensor,
    target: Tensor,
    negative: Tensor | None = None,
    *,
    steps: int,
    lr: float,
    margin: float = 1.0,
    beta: float = 1.0,
    every: int = 1,
) -> tuple[Tensor, dict[str, list[float]]]:
    r"""Gradient descent on a table of free energies :math:`F_W(x_i, y) = W_{iy}`.

    The simplest trainable label-energy model: every energy is its own
    parameter, so the update of :math:`W_{iy}` is exactly
    :math:`-\mathrm{lr}\,\partial L / \partial F_W(x_i, y)` (times ``1/B``, as
    the loss is a mean), and what a loss does to the energies is seen
    undisturbed by any architecture.  ``name`` is a key of
    :data:`ebm_utils.losses.LOSSES`; the loss is
    :func:`ebm_utils.losses.loss_from_energies`.  Runs :func:`train` (plain
    SGD) and also records, per logged step,

    * ``"correct"``: mean correct energy :math:`F_W(x_i, y_i)`;
    * ``"incorrect"``: mean energy of the incorrect labels;
    * ``"gap"``: the smallest gap the loss sees,
      :math:`\min_i F_W(x_i, \bar y_i) - F_W(x_i, y_i)` with the given
      negatives, else :math:`\min_i \min_{y' \ne y_i} F_W(x_i, y') - F_W(x_i, y_i)`;
    * ``"level"``: mean of all energies (moved only by a shift-sensitive loss).

    Returns the trained table (detached) and the history.
    """
    info = loss_info(name)
    e0, t = check_energies_target(energies0, target)
    if e0.dim() != 2 or e0.shape[-1] < 2:
        raise ValueError(f"energies0 must have shape [B, n] with n >= 2, got {tuple(e0.shape)}")
    if negative is not None:
        if not info.pairwise:
            raise ValueError("the NLL loss uses every label: do not pass negative")
        negative = check_negative(negative, t, e0.shape[-1])
    w = e0.detach().clone().requires_grad_(True)
    correct = torch.nn.functional.one_hot(t, e0.shape[-1]).bool()

    def loss_fn() -> Tensor:
        return loss_from_energies(name, w, t, negative, margin=margin, beta=beta)

    def seen(others: Tensor) -> Tensor:
        if negative is None:
            return others.min(dim=1).values
        return w.gather(1, negative[:, None])[:, 0]

    def record() -> dict[str, float]:
        pos = w[correct]
        others = w[~correct].reshape(w.shape[0], -1)
        return {
            "correct": float(pos.mean()),
            "incorrect": float(others.mean()),
            "gap": float((seen(others) - pos).min()),
            "level": float(w.mean()),
        }

    history = train([w], loss_fn, steps, lr, record=record, every=every)
    return w.detach(), history


# ---------------------------------------------------------------------------
# Pages 1.3(d)(ii) and (d)(iii): regularised linear margin problems, the
# (sub)gradient method with a step-size rule, and certified reference optima.
#
# A linear energy over two labels whose gap is linear in the parameters,
# F_W(x, ybar) - F_W(x, y) = z . theta, turns every pairwise loss into a
# function of the hinge argument h = m - z . theta (= m + u, u the violation).
# With an L2 penalty the problems are the classical ones: the hinge gives the
# support vector machine, the log loss logistic regression.  ``R`` independent
# problems are solved at once: theta has shape [R, P], z has shape [R, N, P].

import math as _math
from dataclasses import dataclass as _dataclass

from ._validation import check_callable, check_nonnegative
from .losses import tempered_softplus as _tempered_softplus

MARGIN_LOSSES: tuple[str, ...] = ("hinge", "soft_hinge", "ramp", "squared_hinge")


def _margin_args(theta: Tensor, z: Tensor, c: Tensor | float) -> tuple[Tensor, Tensor, Tensor]:
    if not isinstance(theta, Tensor) or not isinstance(z, Tensor):
        raise TypeError("theta and z must be tensors")
    if z.dim() != 3 or theta.dim() != 2 or theta.shape != (z.shape[0], z.shape[2]):
        raise ValueError(f"need theta [R, P] and z [R, N, P], got {tuple(theta.shape)} and {tuple(z.shape)}")
    c_t = torch.as_tensor(c, dtype=z.dtype)
    c_t = c_t.expand(z.shape[:2]) if c_t.dim() == 0 or c_t.shape == z.shape[1:2] else c_t
    if c_t.shape != z.shape[:2]:
        raise ValueError(f"c must be a scalar or have shape [N] or {tuple(z.shape[:2])}, got {tuple(c_t.shape)}")
    return theta, z, c_t


def margin_terms(name: str, h: Tensor, *, beta: float = 1.0, cap: float = 2.0) -> Tensor:
    r"""The loss of each pair as a function of its hinge argument :math:`h = m + u`, elementwise.

    * ``"hinge"``: :math:`[h]^+`;
    * ``"soft_hinge"``: :math:`s_\beta(h) = \frac{1}{\beta}\log(1 + e^{\beta h})`
      (the log loss is ``beta=1`` with :math:`m = 0`);
    * ``"ramp"``: :math:`\min(c, [h]^+)`, the truncated hinge;
    * ``"squared_hinge"``: :math:`([h]^+)^2`, one term of the square-square loss.

    They equal :func:`ebm_utils.losses.hinge_loss`, ``soft_hinge_loss``,
    ``ramp_loss`` with energies whose violation is :math:`h - m`.
    """
    check_choice(name, "name", MARGIN_LOSSES)
    if name == "hinge":
        return torch.relu(h)
    if name == "soft_hinge":
        return _tempered_softplus(h, check_positive(beta, "beta"))
    if name == "ramp":
        return torch.relu(h) - torch.relu(h - check_positive(cap, "cap"))
    return torch.relu(h).square()


def margin_weights(name: str, h: Tensor, *, beta: float = 1.0, cap: float = 2.0) -> Tensor:
    r"""The derivative :math:`\ell'(h)` of :func:`margin_terms` (at a kink, the value ``relu`` takes: 0 from the left).

    hinge :math:`\mathbb{1}[h > 0]`; soft hinge :math:`\sigma(\beta h)`; ramp
    :math:`\mathbb{1}[0 < h \le c]`; squared hinge :math:`2[h]^+`.
    """
    check_choice(name, "name", MARGIN_LOSSES)
    if name == "hinge":
        return (h > 0).to(h.dtype)
    if name == "soft_hinge":
        return torch.sigmoid(check_positive(beta, "beta") * h)
    if name == "ramp":
        return ((h > 0) & (h <= check_positive(cap, "cap"))).to(h.dtype)
    return 2 * torch.relu(h)


def margin_objective(
    name: str, theta: Tensor, z: Tensor, c: Tensor | float = 1.0, lam: float = 0.0, **options: float
) -> Tensor:
    r"""Per problem, :math:`P(\theta) = \frac{\lambda}{2}\lVert\theta\rVert^2 + \frac{1}{N}\sum_i \ell(c_i - z_i \cdot \theta)`; shape ``[R]``.

    ``c`` is the margin of each pair (a scalar, ``[N]`` or ``[R, N]``); ``options`` are
    the ``beta`` and ``cap`` of :func:`margin_terms`.  Differentiable by autograd.
    """
    theta, z, c_t = _margin_args(theta, z, c)
    lam = check_nonnegative(lam, "lam")
    h = c_t - torch.einsum("rnp,rp->rn", z, theta)
    return 0.5 * lam * theta.square().sum(-1) + margin_terms(name, h, **options).mean(-1)


def margin_gradient(
    name: str, theta: Tensor, z: Tensor, c: Tensor | float = 1.0, lam: float = 0.0, **options: float
) -> Tensor:
    r"""The (sub)gradient :math:`\lambda\theta - \frac{1}{N}\sum_i \ell'(h_i)\, z_i` of :func:`margin_objective`, in closed form; ``[R, P]``."""
    theta, z, c_t = _margin_args(theta, z, c)
    lam = check_nonnegative(lam, "lam")
    h = c_t - torch.einsum("rnp,rp->rn", z, theta)
    return lam * theta - torch.einsum("rn,rnp->rp", margin_weights(name, h, **options), z) / z.shape[1]


StepRule = Callable[[int, Tensor, Tensor], "float | Tensor"]


def fixed_step(eta: float) -> StepRule:
    """The step-size rule :math:`\\eta_t = \\eta` (gradient descent on a smooth loss: :math:`\\eta = 1/L`).

    A step-size rule is called as ``rule(t, value, grad)`` by :func:`descend`
    (the current objective values ``[R]`` and (sub)gradients ``[R, P]``); this
    one ignores them.
    """
    eta = check_positive(eta, "eta")
    return lambda t, value=None, grad=None: eta


def diminishing_step(eta0: float) -> StepRule:
    r"""The step-size rule :math:`\eta_t = \eta_0 / \sqrt{t + 1}` of the subgradient method (convex, Lipschitz)."""
    eta0 = check_positive(eta0, "eta0")
    return lambda t, value=None, grad=None: eta0 / _math.sqrt(t + 1)


def strongly_convex_step(lam: float) -> StepRule:
    r"""The step-size rule :math:`\eta_t = 2 / (\lambda (t + 1))` for a :math:`\lambda`-strongly convex objective.

    With it the subgradient method guarantees an :math:`O(1/t)` suboptimality
    (Lacoste-Julien, Schmidt and Bach 2012), evaluated by
    :func:`strongly_convex_bound`.  The first step, :math:`2/\lambda`, is large.
    """
    lam = check_positive(lam, "lam")
    return lambda t, value=None, grad=None: 2.0 / (lam * (t + 1))


def polyak_step(lower: Tensor) -> StepRule:
    r"""Polyak's step-size rule :math:`\eta_t = (P(\theta_t) - P_{\mathrm{low}}) / \lVert g_t\rVert^2`, per problem.

    ``lower`` (``[R]``) is the optimal value :math:`P^\star` or a lower bound
    on it (a dual value, say): the rule needs it, which is why it is rarely
    available outside a test.  The step is 0 where the gradient is 0 or the
    value is already below ``lower``.  With :math:`P_{\mathrm{low}} = P^\star`
    the subgradient method then guarantees
    :math:`\min_{s \le t} P(\theta_s) - P^\star \le G \lVert\theta_0 - \theta^\star\rVert / \sqrt{t + 1}`
    (Polyak 1987), where :math:`G` bounds the subgradient norms.
    """
    if not isinstance(lower, Tensor) or lower.dim() != 1:
        raise ValueError("lower must be a tensor of shape [R]")

    def rule(t: int, value: Tensor, grad: Tensor) -> Tensor:
        g2 = grad.square().sum(-1)
        excess = (value - lower).clamp_min(0.0)
        return torch.where(g2 > 0, excess / torch.where(g2 > 0, g2, torch.ones_like(g2)), torch.zeros_like(g2))

    return rule


def descend(
    gradient: Callable[[Tensor], Tensor],
    value: Callable[[Tensor], Tensor],
    theta0: Tensor,
    steps: int,
    step_size: StepRule,
) -> dict[str, Tensor]:
    r"""Full-batch (sub)gradient descent :math:`\theta_{t+1} = \theta_t - \eta_t g_t` on ``R`` problems at once.

    ``gradient(theta)`` returns ``[R, P]`` (sub)gradients and ``value(theta)``
    the ``[R]`` objective values; ``step_size`` is a rule
    ``(t, value, grad) -> eta_t``, a number or one step per problem ``[R]``
    (:func:`fixed_step`, :func:`diminishing_step`,
    :func:`strongly_convex_step`, :func:`polyak_step`).  Returns

    * ``"value"``: ``[steps + 1, R]``, :math:`P(\theta_t)` for ``t = 0..steps``;
    * ``"best"``: ``[steps + 1, R]``, :math:`\min_{s \le t} P(\theta_s)` (what
      the subgradient method guarantees: it is not a descent method);
    * ``"grad_norm"``: ``[steps + 1, R]``, :math:`\lVert g_t\rVert`;
    * ``"step_size"``: ``[steps, R]``, :math:`\eta_t`;
    * ``"theta"``: the final ``[R, P]`` parameters.

    Raises ValueError on a non-finite value (divergence is never silent) and
    on a step that is negative or not finite.
    """
    check_callable(gradient, "gradient")
    check_callable(value, "value")
    check_int(steps, "steps", minimum=0)
    check_callable(step_size, "step_size")
    theta = theta0.detach().clone()
    values, norms, etas = [], [], []
    for t in range(steps + 1):
        v = value(theta)
        if not bool(torch.isfinite(v).all()):
            raise ValueError(f"the objective became {v.tolist()} at step {t}")
        g = gradient(theta)
        values.append(v)
        norms.append(torch.linalg.vector_norm(g, dim=-1))
        if t < steps:
            eta = torch.as_tensor(step_size(t, v, g), dtype=theta.dtype).expand(theta.shape[0])
            if not bool((torch.isfinite(eta) & (eta >= 0)).all()):
                raise ValueError(f"step size must be finite and nonnegative, got {eta.tolist()} at step {t}")
            etas.append(eta)
            theta = theta - eta[:, None] * g
    value_t = torch.stack(values)
    return {
        "value": value_t,
        "best": torch.cummin(value_t, dim=0).values,
        "grad_norm": torch.stack(norms),
        "step_size": torch.stack(etas) if etas else torch.zeros(0, theta.shape[0], dtype=theta.dtype),
        "theta": theta,
    }


def subgradient_bound(history: dict[str, Tensor], distance0: Tensor) -> Tensor:
    r"""The guarantee of the subgradient method on a convex objective, per step: ``[steps, R]``.

    .. math::
        \min_{s < t} P(\theta_s) - P^\star \le
        \frac{\lVert\theta_0 - \theta^\star\rVert^2 + \sum_{s<t} \eta_s^2 \lVert g_s\rVert^2}{2 \sum_{s<t} \eta_s}

    for any step sizes (Nesterov 2018, sec. 3.2.3), evaluated with the
    recorded steps and subgradient norms of :func:`descend`; row ``t - 1``
    bounds ``history["best"][t - 1]`` (the best of the first ``t`` iterates).
    ``distance0`` is :math:`\lVert\theta_0 - \theta^\star\rVert` per problem, ``[R]``.
    With a fixed step :math:`\eta` and subgradients bounded by :math:`G` it
    tends to :math:`\eta G^2 / 2`, not to 0: a fixed step only reaches a
    neighbourhood of the optimum.
    """
    eta = history["step_size"]
    g2 = history["grad_norm"][:-1].square()
    return (distance0.square() + torch.cumsum(eta.square() * g2, 0)) / (2 * torch.cumsum(eta, 0))


def strongly_convex_bound(history: dict[str, Tensor], lam: float) -> Tensor:
    r"""The guarantee of :func:`strongly_convex_step` on a :math:`\lambda`-strongly convex objective: ``[steps, R]``.

    With :math:`\eta_s = 2/(\lambda(s + 1))`, strong convexity gives
    :math:`s\,(P(\theta_s) - P^\star) \le \frac{\lambda}{4}\big(s(s-1)\lVert\theta_s - \theta^\star\rVert^2
    - s(s+1)\lVert\theta_{s+1} - \theta^\star\rVert^2\big) + \frac{s}{\lambda(s+1)}\lVert g_s\rVert^2`,
    which telescopes (Lacoste-Julien, Schmidt and Bach 2012) to

    .. math::
        \min_{1 \le s \le k} P(\theta_s) - P^\star \le
        \frac{2}{\lambda k (k + 1)} \sum_{s=1}^{k} \frac{s}{s + 1} \lVert g_s\rVert^2
        \le \frac{2 G^2}{\lambda (k + 1)},

    evaluated with the recorded subgradient norms; row ``k - 1`` bounds
    ``history["best"][k]``.  Valid only for the steps of
    :func:`strongly_convex_step` with the same ``lam``: raises ValueError otherwise.
    """
    lam = check_positive(lam, "lam")
    eta = history["step_size"]
    steps = eta.shape[0]
    s = torch.arange(1, steps + 1, dtype=eta.dtype)
    if not torch.allclose(eta, (2.0 / (lam * s))[:, None].expand_as(eta), rtol=1e-12, atol=0.0):
        raise ValueError("the history was not produced by strongly_convex_step(lam)")
    g2 = history["grad_norm"][1:].square()  # g_1 .. g_steps
    weighted = torch.cumsum((s / (s + 1))[:, None] * g2, 0)
    return 2.0 * weighted / (lam * (s * (s + 1))[:, None])


@_dataclass(frozen=True)
class DualSolution:
    """A primal-dual pair of :func:`hinge_dual_optimum`: ``theta`` ``[R, P]``, ``alpha`` ``[R, N]``, ``gap`` ``[R]`` (primal minus dual value, >= 0)."""

    theta: Tensor
    alpha: Tensor
    gap: Tensor


def hinge_dual_optimum(
    z: Tensor,
    c: Tensor | float,
    lam: float,
    delta: Tensor | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 200_000,
) -> DualSolution:
    r"""The minimiser of :math:`\frac{\lambda}{2}\lVert\theta\rVert^2 + \frac{1}{N}\sum_i \left([h_i]^+ - \delta_i h_i\right)`, :math:`h_i = c_i - z_i\cdot\theta`, certified by its dual.

    With ``delta = 0`` this is the L2-regularised hinge (the support vector
    machine, bias included in the penalty).  ``delta`` in ``{0, 1}`` adds the
    linear terms of one step of the concave-convex procedure for the ramp
    loss (:func:`ramp_local_optimum`).  The dual, maximised by accelerated projected
    gradient ascent (FISTA), is

    .. math::
        D(\alpha) = \sum_i \alpha_i c_i - \frac{\lambda}{2}\lVert\theta(\alpha)\rVert^2,\quad
        \theta(\alpha) = \frac{1}{\lambda}\sum_i \alpha_i z_i,\quad
        -\frac{\delta_i}{N} \le \alpha_i \le \frac{1 - \delta_i}{N};

    iterations stop once the duality gap :math:`P(\theta) - D(\alpha)`, an
    upper bound on :math:`P(\theta) - P^\star`, is below ``tol`` for every
    problem.  Raises RuntimeError if ``max_iter`` is reached first.
    """
    theta0 = torch.zeros(z.shape[0], z.shape[2], dtype=z.dtype)
    _, z, c_t = _margin_args(theta0, z, c)
    lam = check_positive(lam, "lam")
    check_positive(tol, "tol")
    n = z.shape[1]
    d = torch.zeros_like(c_t) if delta is None else torch.as_tensor(delta, dtype=z.dtype).expand_as(c_t)
    lower, upper = -d / n, (1 - d) / n
    lip = torch.linalg.eigvalsh(torch.einsum("rnp,rnq->rpq", z, z))[:, -1] / lam  # [R]

    def primal_dual(alpha: Tensor) -> tuple[Tensor, Tensor]:
        theta = torch.einsum("rn,rnp->rp", alpha, z) / lam
        h = c_t - torch.einsum("rnp,rp->rn", z, theta)
        half = 0.5 * lam * theta.square().sum(-1)
        primal = half + (torch.relu(h) - d * h).mean(-1)
        return theta, primal - ((alpha * c_t).sum(-1) - half)

    alpha = torch.clamp(torch.zeros_like(c_t), lower, upper)
    y, t = alpha.clone(), torch.ones(z.shape[0], 1, dtype=z.dtype)
    for k in range(check_int(max_iter, "max_iter")):
        theta_y = torch.einsum("rn,rnp->rp", y, z) / lam
        step = c_t - torch.einsum("rnp,rp->rn", z, theta_y)  # dD/dalpha at y
        new = torch.clamp(y + step / lip[:, None], lower, upper)
        # momentum, restarted for a problem whose step turns against it (O'Donoghue and Candes 2015)
        restart = ((y - new) * (new - alpha)).sum(-1, keepdim=True) > 0
        t = torch.where(restart, torch.ones_like(t), t)
        t_new = (1 + torch.sqrt(1 + 4 * t * t)) / 2
        y = new + ((t - 1) / t_new) * (new - alpha)
        alpha, t = new, t_new
        if k % 25 == 0:
            theta, gap = primal_dual(alpha)
            if bool((gap < tol).all()):
                return DualSolution(theta, alpha, gap)
    raise RuntimeError(f"no duality gap below {tol} after {max_iter} iterations")


def ramp_local_optimum(
    z: Tensor, c: Tensor | float, lam: float, cap: float = 2.0, *, start: Tensor | None = None, tol: float = 1e-10
) -> tuple[Tensor, int]:
    r"""A local minimiser of the L2-regularised ramp loss by the concave-convex procedure (CCCP).

    The objective is not convex: what is returned is the point where the
    procedure settles from ``start``, not in general the global minimiser.

    The ramp is :math:`[h]^+ - [h - c_{\max}]^+`; each CCCP step replaces the
    concave part by its tangent at the current :math:`\theta` (the pairs
    violated by more than the cap, :math:`\delta_i = \mathbb{1}[h_i > c_{\max}]`)
    and solves the convex problem exactly (:func:`hinge_dual_optimum`), as
    Collobert et al. (2006) do.  The objective never increases, and the
    procedure stops when :math:`\delta` repeats.  ``start`` (``[R, P]``) is the
    first tangent point; by default the hinge optimum (the usual start: the
    ramp is non-convex and its result depends on it).  Returns the
    parameters and the number of convex solves.
    """
    theta = hinge_dual_optimum(z, c, lam, tol=tol).theta if start is None else start
    _, z, c_t = _margin_args(theta, z, c)
    cap = check_positive(cap, "cap")
    delta = None
    for solves in range(1, 101):
        new = (c_t - torch.einsum("rnp,rp->rn", z, theta) > cap).to(z.dtype)
        if delta is not None and bool((new == delta).all()):
            return theta, solves - 1
        delta = new
        theta = hinge_dual_optimum(z, c_t, lam, delta, tol=tol).theta
    raise RuntimeError("the concave-convex procedure did not settle in 100 steps")


def smooth_optimum(
    name: str, z: Tensor, c: Tensor | float, lam: float, *, beta: float = 1.0, tol: float = 1e-11
) -> Tensor:
    r"""The minimiser of :func:`margin_objective` for a smooth loss (``"soft_hinge"`` or ``"squared_hinge"``), by Newton's method.

    The objective is :math:`\lambda`-strongly convex; each Newton step uses
    the exact Hessian :math:`\lambda I + \frac{1}{N}\sum_i \ell''(h_i)\, z_i z_i^\top`
    (for the squared hinge its generalised form, :math:`\ell'' = 2\,\mathbb{1}[h > 0]`)
    and halves the step until the objective decreases.  Stops when every
    gradient norm is below ``tol``; raises RuntimeError after 100 steps.
    """
    check_choice(name, "name", ("soft_hinge", "squared_hinge"))
    lam = check_positive(lam, "lam")
    check_positive(tol, "tol")
    theta = torch.zeros(z.shape[0], z.shape[2], dtype=z.dtype)
    _, z, c_t = _margin_args(theta, z, c)
    opts = {"beta": beta}

    def objective(th: Tensor) -> Tensor:
        return margin_objective(name, th, z, c_t, lam, **opts)

    eye = torch.eye(z.shape[2], dtype=z.dtype)
    for _ in range(100):
        g = margin_gradient(name, theta, z, c_t, lam, **opts)
        if bool((torch.linalg.vector_norm(g, dim=-1) < tol).all()):
            return theta
        h = c_t - torch.einsum("rnp,rp->rn", z, theta)
        if name == "soft_hinge":
            s = torch.sigmoid(beta * h)
            curv = beta * s * (1 - s)
        else:
            curv = 2.0 * (h > 0).to(z.dtype)
        hess = lam * eye + torch.einsum("rn,rnp,rnq->rpq", curv, z, z) / z.shape[1]
        step = torch.linalg.solve(hess, g[..., None])[..., 0]
        f0, scale = objective(theta), torch.ones(z.shape[0], 1, dtype=z.dtype)
        slack = 8 * torch.finfo(z.dtype).eps * f0.abs()  # rounding of the objective itself
        for _ in range(60):  # backtracking, per problem
            worse = objective(theta - scale * step) > f0 + slack
            if not bool(worse.any()):
                break
            scale = torch.where(worse[:, None], scale / 2, scale)
        theta = theta - scale * step
    raise RuntimeError(f"Newton's method did not reach a gradient norm below {tol}")


def max_margin_direction(z: Tensor, *, tol: float = 1e-10, max_iter: int = 500_000) -> Tensor:
    r"""The hard-margin solution :math:`\arg\min \lVert\theta\rVert^2` subject to :math:`z_i \cdot \theta \ge 1`, for separable data; ``[R, P]``.

    Solved through its dual :math:`\max_{\alpha \ge 0} \sum_i \alpha_i - \frac{1}{2}\lVert\sum_i \alpha_i z_i\rVert^2`
    by FISTA, and accepted only when the KKT conditions hold to ``tol``: every
    margin at least :math:`1 - \text{tol}`, and :math:`\alpha_i (z_i\cdot\theta - 1)`
    at most ``tol`` in size.  Soudry et al. (2018): gradient descent on the log
    loss over separable data converges in direction to this vector.
    Raises ValueError if the data are not separable with a geometric margin
    above :math:`10^{-3}` (the dual then grows past :math:`\sum_i \alpha_i = 10^6`).
    """
    if not isinstance(z, Tensor) or z.dim() != 3:
        raise ValueError("z must be a tensor of shape [R, N, P]")
    lip = torch.linalg.eigvalsh(torch.einsum("rnp,rnq->rpq", z, z))[:, -1]
    alpha = torch.zeros(z.shape[:2], dtype=z.dtype)
    y, t = alpha.clone(), torch.ones(z.shape[0], 1, dtype=z.dtype)
    for k in range(check_int(max_iter, "max_iter")):
        theta_y = torch.einsum("rn,rnp->rp", y, z)
        new = torch.clamp(y + (1 - torch.einsum("rnp,rp->rn", z, theta_y)) / lip[:, None], min=0)
        restart = ((y - new) * (new - alpha)).sum(-1, keepdim=True) > 0  # as in hinge_dual_optimum
        t = torch.where(restart, torch.ones_like(t), t)
        t_new = (1 + torch.sqrt(1 + 4 * t * t)) / 2
        y = new + ((t - 1) / t_new) * (new - alpha)
        alpha, t = new, t_new
        if k % 50 == 0:
            theta = torch.einsum("rn,rnp->rp", alpha, z)
            margin = torch.einsum("rnp,rp->rn", z, theta)
            if not bool(torch.isfinite(theta).all()) or float(alpha.sum(-1).max()) > 1e6:
                # at the optimum sum(alpha) = |theta|^2 = 1 / margin^2
                raise ValueError("the data are not linearly separable with a margin above 1e-3")
            if float((1 - margin).max()) < tol and float((alpha * (margin - 1)).abs().max()) < tol:
                return theta
    raise RuntimeError(f"the KKT conditions did not hold to {tol} after {max_iter} iterations")


__all__ += [
    "MARGIN_LOSSES",
    "margin_terms",
    "margin_weights",
    "margin_objective",
    "margin_gradient",
    "fixed_step",
    "diminishing_step",
    "strongly_convex_step",
    "polyak_step",
    "descend",
    "subgradient_bound",
    "strongly_convex_bound",
    "DualSolution",
    "hinge_dual_optimum",
    "ramp_local_optimum",
    "smooth_optimum",
    "max_margin_direction",
]
