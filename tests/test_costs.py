"""What a loss costs in energy and gradient evaluations (ebm_utils.costs, pages 1.2(iii) and 1.3(d)(i))."""
from __future__ import annotations

import pytest
import torch

from ebm_utils.costs import EvalCount, count_evaluations, model_loss
from ebm_utils.label_energies import LinearLabelEnergy, MLPLabelEnergy, TinyLabelEnergy
from ebm_utils.losses import LOSS_NAMES, PAIRWISE_NAMES, loss_from_energies
from ebm_utils.seeding import generator

D = torch.float64


@pytest.mark.parametrize("n", [2, 5, 11])
def test_evaluation_counts(n):
    model = MLPLabelEnergy(3, n, hidden=4)
    w = model.init(stream=1)
    g = generator(2)
    x = torch.randn(7, 3, generator=g, dtype=D)
    t = torch.randint(0, n, (7,), generator=g)
    neg = (t + 1) % n
    c = count_evaluations("nll", model, w, x, t)
    assert c == EvalCount(n, n)
    for name in PAIRWISE_NAMES:
        c = count_evaluations(name, model, w, x, t, neg)
        assert (c.energy_evals, c.gradient_evals) == (2, 2)
        c = count_evaluations(name, model, w, x, t)  # most offending negative
        assert (c.energy_evals, c.gradient_evals) == (n + 2, 2)


@pytest.mark.parametrize("make", [lambda: LinearLabelEnergy(2, 4), lambda: TinyLabelEnergy(2, 4)])
def test_model_loss_equals_table_loss(make):
    model = make()
    w = model.init(stream=3)
    x = torch.randn(5, 2, generator=generator(4), dtype=D)
    t = torch.tensor([0, 1, 2, 3, 0])
    e = model.energies(w, x)
    for name in LOSS_NAMES:
        kw = {} if name == "nll" else {"negative": None}
        torch.testing.assert_close(model_loss(name, model, w, x, t, **kw), loss_from_energies(name, e, t, **kw))
    neg = (t + 1) % 4
    torch.testing.assert_close(
        model_loss("hinge", model, w, x, t, neg, margin=0.5), loss_from_energies("hinge", e, t, neg, margin=0.5)
    )


def test_model_loss_refuses_bad_arguments():
    model = LinearLabelEnergy(2, 3)
    w, x, t = model.init(), torch.zeros(2, 2, dtype=D), torch.tensor([0, 1])
    with pytest.raises(TypeError, match="LabelEnergy"):
        model_loss("hinge", lambda w, x, y: x, w, x, t)
    with pytest.raises(ValueError, match="do not pass negative"):
        model_loss("nll", model, w, x, t, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="equals the correct label"):
        model_loss("hinge", model, w, x, t, t)
    with pytest.raises(ValueError, match="unknown loss"):
        count_evaluations("l2", model, w, x, t)
    with pytest.raises(TypeError):
        count_evaluations("nll", model, w.numpy(), x, t)
