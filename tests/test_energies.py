"""The one energy interface: every model of the book is called, initialised and differentiated alike."""
from __future__ import annotations

import pytest
import torch

from ebm_utils.checks import check_gradient
from ebm_utils.continuous_energies import (
    EllipseLatentEnergy,
    KMeansEnergy,
    MLPEnergy,
    RingEnergy,
    SubspaceEnergy,
)
from ebm_utils.energies import ContinuousEnergy, Energy, LabelEnergy, LatentEnergy, unflatten
from ebm_utils.label_energies import LinearLabelEnergy, MLPLabelEnergy, TinyLabelEnergy

f64 = torch.float64
G = torch.Generator().manual_seed(0)

MODELS = {
    "mlp": lambda: MLPEnergy(y_dim=2, hidden=5),
    "mlp_conditional": lambda: MLPEnergy(y_dim=1, hidden=4, head="softplus", x_dim=2),
    "kmeans": lambda: KMeansEnergy(y_dim=2, k=3),
    "subspace": lambda: SubspaceEnergy(y_dim=3, rank=1),
    "ring": lambda: RingEnergy(),
    "ring_conditional": lambda: RingEnergy(y_dim=2, x_dim=1),
    "ellipse": lambda: EllipseLatentEnergy(),
    "ellipse_conditional": lambda: EllipseLatentEnergy(x_dim=1),
    "linear_labels": lambda: LinearLabelEnergy(2, 4),
    "mlp_labels": lambda: MLPLabelEnergy(2, 4, hidden=3),
    "tiny_labels": lambda: TinyLabelEnergy(2, 4, hidden=3),
}


def batch(model: Energy, b: int) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Inputs and outputs of batch b for any model of the book."""
    x = None if model.x_dim is None else torch.rand(b, model.x_dim, generator=G, dtype=f64)
    if isinstance(model, LabelEnergy):
        return x, torch.randint(0, model.n_labels, (b,), generator=G)
    return x, torch.randn(b, model.y_dim, generator=G, dtype=f64)


@pytest.fixture(params=sorted(MODELS))
def model(request) -> Energy:
    return MODELS[request.param]()


def test_every_model_has_the_interface(model):
    assert isinstance(model, Energy) and isinstance(model, (ContinuousEnergy, LabelEnergy))
    w = model.init(stream=1)
    assert w.shape == (model.num_params,) and w.dtype == f64 and not w.requires_grad
    assert torch.equal(model.init(stream=1), w) and not torch.equal(model.init(stream=2), w)
    x, y = batch(model, 5)
    e = model(w, x, y)
    assert e.shape == (5,) and e.dtype == f64
    assert not any(hasattr(model, old) for old in ("init_params", "energy", "_some_energies"))


def test_batched_call_is_the_call_of_each_example(model):
    w = model.init(stream=2)
    x, y = batch(model, 4)
    e = model(w, x, y)
    one_by_one = torch.stack([model(w, None if x is None else x[i : i + 1], y[i : i + 1])[0] for i in range(4)])
    torch.testing.assert_close(e, one_by_one, rtol=1e-14, atol=1e-14)


def test_one_input_broadcasts_against_many_outputs(model):
    w = model.init(stream=3)
    x, y = batch(model, 6)
    if x is None:
        pytest.skip("unconditional")
    many = model(w, x[:1], y)
    torch.testing.assert_close(many, model(w, x[:1].expand(6, -1), y))
    one_y = model(w, x, y[:1])
    torch.testing.assert_close(one_y, model(w, x, y[:1].expand(6, *y.shape[1:])))
    with pytest.raises(ValueError, match="batch"):
        model(w, x[:2], y[:3])


def test_grad_w_is_the_per_example_gradient(model):
    w = model.init(stream=4)
    x, y = batch(model, 3)
    jac = model.grad_w(w, x, y)
    assert jac.shape == (3, model.num_params)
    for i in range(3):
        wi = w.clone().requires_grad_(True)
        (gi,) = torch.autograd.grad(model(wi, None if x is None else x[i : i + 1], y[i : i + 1]).sum(), wi)
        torch.testing.assert_close(jac[i], gi)
    # a wrong gradient (the sum over the batch in every row) is not what grad_w returns
    assert not torch.allclose(jac, jac.sum(0, keepdim=True).expand_as(jac))


def test_grad_y_of_continuous_energies_passes_check_gradient(model):
    if not isinstance(model, ContinuousEnergy):
        pytest.skip("labels have no gradient")
    w = model.init(stream=5)
    x, y = batch(model, 3)
    g = model.grad_y(w, x, y)
    assert g.shape == y.shape
    for i in range(3):
        xi = None if x is None else x[i : i + 1]
        report = check_gradient(
            lambda v: model(w, xi, v[None]).sum(), lambda v: model.grad_y(w, xi, v[None])[0], y[i : i + 1]
        )
        assert report.checked == 1
        torch.testing.assert_close(model.grad_y(w, xi, y[i : i + 1])[0], g[i])


def test_grad_y_with_create_graph_is_differentiable_in_w():
    ring = RingEnergy()
    w = ring.params(1.5).requires_grad_(True)
    y = torch.tensor([[0.3, -0.4]], dtype=f64)
    g = ring.grad_y(w, None, y, create_graph=True)  # 4 (|y|^2 - r^2) y
    (dg_dr,) = torch.autograd.grad(g.sum(), w)
    torch.testing.assert_close(dg_dr, torch.tensor([-8 * 1.5 * (0.3 - 0.4)], dtype=f64))
    assert ring.grad_y(w, None, y).grad_fn is None


def test_counters_count_every_energy_and_every_graph(model):
    w = model.init(stream=6)
    x, y = batch(model, 4)
    model.reset_counts()
    with torch.no_grad():
        model(w, x, y)
    assert (model.energy_evals, model.graph_evals) == (4, 0)
    model(w.clone().requires_grad_(True), x, y)
    assert (model.energy_evals, model.graph_evals) == (8, 4)
    if isinstance(model, LabelEnergy):
        model.energies(w, x)
        assert model.energy_evals == 8 + 4 * model.n_labels
    model.reset_counts()
    assert (model.energy_evals, model.graph_evals) == (0, 0)


def test_label_models_all_energies_agree_with_the_call(model):
    if not isinstance(model, LabelEnergy):
        pytest.skip("continuous outputs")
    w = model.init(stream=7)
    x, _ = batch(model, 5)
    table = model.energies(w, x)
    assert table.shape == (5, model.n_labels)
    for label in range(model.n_labels):
        y = torch.full((5,), label)
        torch.testing.assert_close(model(w, x, y), table[:, label], rtol=1e-14, atol=1e-14)


def test_inputs_are_validated(model):
    w = model.init()
    x, y = batch(model, 2)
    with pytest.raises(ValueError, match="shape"):
        model(w[:-1], x, y)
    with pytest.raises(TypeError):
        model(w.numpy(), x, y)
    with pytest.raises(ValueError):
        model.init(scale=0.0)
    with pytest.raises(TypeError):
        model.init(scale="1")
    with pytest.raises(TypeError):
        model.init(stream=1.5)
    if model.x_dim is None:
        with pytest.raises(ValueError, match="x=None"):
            model(w, torch.zeros(2, 1, dtype=f64), y)
    else:
        with pytest.raises(ValueError, match="needs an input"):
            model(w, None, y)
        with pytest.raises(ValueError, match="x must have shape"):
            model(w, torch.zeros(2, model.x_dim + 1, dtype=f64), y)
    if isinstance(model, LabelEnergy):
        with pytest.raises(IndexError):
            model(w, x, torch.tensor([0, model.n_labels]))
        with pytest.raises(TypeError):
            model(w, x, y.double())
        with pytest.raises(ValueError, match=r"\[B\]"):
            model(w, x, y[:, None])
    else:
        with pytest.raises(ValueError, match="y must have shape"):
            model(w, x, torch.zeros(2, model.y_dim + 1, dtype=f64))
        with pytest.raises(TypeError):
            model(w, x, torch.zeros(2, model.y_dim, dtype=torch.long))


def test_latent_energy_table_is_every_output_at_every_latent_value():
    ell = EllipseLatentEnergy(x_dim=1)
    w = ell.init(stream=8)
    assert isinstance(ell, LatentEnergy) and (ell.visible_dim, ell.z_dim, ell.y_dim) == (2, 1, 3)
    y = torch.randn(3, 2, generator=G, dtype=f64)
    z = torch.linspace(0, 6, 5, dtype=f64)[:, None]
    x = torch.tensor([[0.3]], dtype=f64)
    ell.reset_counts()
    table = ell.energy_table(w, x, y, z, chunk=4)  # chunks of one output at a time
    assert table.shape == (3, 5) and ell.energy_evals == 15
    for i in range(3):
        for k in range(5):
            assert table[i, k] == ell(w, x, ell.join(y[i : i + 1], z[k : k + 1]))[0]
    xs = torch.tensor([[0.1], [0.2], [0.3]], dtype=f64)
    per_input = ell.energy_table(w, xs, y, z)
    torch.testing.assert_close(per_input[2], table[2])
    assert not torch.allclose(per_input[0], table[0])


def test_unflatten():
    w = torch.arange(7.0)
    a, b, c = unflatten(w, [(2, 2), (2,), ()])
    assert a.tolist() == [[0.0, 1.0], [2.0, 3.0]] and b.tolist() == [4.0, 5.0] and c.item() == 6.0
    with pytest.raises(ValueError, match="need 6"):
        unflatten(w, [(2, 3)])


def test_models_are_not_constructible_with_bad_sizes():
    for make, err in [
        (lambda: MLPEnergy(hidden=0), ValueError),
        (lambda: MLPEnergy(y_dim=0), ValueError),
        (lambda: MLPEnergy(head="relu"), ValueError),
        (lambda: MLPEnergy(hidden=2.0), TypeError),
        (lambda: MLPEnergy(x_dim=0), ValueError),
        (lambda: KMeansEnergy(k=0), ValueError),
        (lambda: SubspaceEnergy(y_dim=2, rank=2), ValueError),
        (lambda: RingEnergy(y_dim=0), ValueError),
        (lambda: LinearLabelEnergy(0, 3), ValueError),
        (lambda: MLPLabelEnergy(2, 3, hidden=0), ValueError),
        (lambda: TinyLabelEnergy(n_labels=1), ValueError),
        (lambda: TinyLabelEnergy(x_dim=0), ValueError),
    ]:
        with pytest.raises(err):
            make()
    with pytest.raises(TypeError):
        Energy(None)  # abstract: no energy without _energy and _init
