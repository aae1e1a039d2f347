"""Every argument check: the value it accepts, returns unchanged, and each way it refuses (type, message)."""
from __future__ import annotations

import math

import pytest
import sympy as sp
import torch

from ebm_utils import _validation as v


def test_check_int_bounds_are_inclusive_and_types_strict():
    assert v.check_int(1, "n") == 1
    assert v.check_int(0, "n", minimum=0) == 0
    assert v.check_int(5, "n", minimum=None, maximum=5) == 5
    assert v.check_int(-7, "n", minimum=None) == -7
    with pytest.raises(ValueError, match=r"^n must be at least 1, got 0$"):
        v.check_int(0, "n")
    with pytest.raises(ValueError, match=r"^n must be at most 5, got 6$"):
        v.check_int(6, "n", maximum=5)
    with pytest.raises(TypeError, match=r"^n must be an int, got bool$"):
        v.check_int(True, "n")
    with pytest.raises(TypeError, match=r"^n must be an int, got float$"):
        v.check_int(2.0, "n")


@pytest.mark.parametrize("good", [2, 2.5, torch.tensor(2.5), torch.tensor([[2.5]])])
def test_positive_and_nonnegative_accept_numbers_and_scalar_tensors(good):
    assert v.check_positive(good, "x") == pytest.approx(float(torch.as_tensor(good).reshape(())))
    assert isinstance(v.check_positive(good, "x"), float)
    assert v.check_nonnegative(good, "x") == pytest.approx(float(torch.as_tensor(good).reshape(())))


def test_positive_refuses_zero_negative_and_non_finite():
    for bad in (0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match=r"^x must be positive and finite, got"):
            v.check_positive(bad, "x")
    with pytest.raises(TypeError, match=r"^x must be a real number, got bool$"):
        v.check_positive(True, "x")
    with pytest.raises(TypeError, match=r"^x must be a real number, got str$"):
        v.check_positive("1", "x")
    with pytest.raises(ValueError, match=r"^x must be a scalar, got a tensor of shape \(2,\)$"):
        v.check_positive(torch.ones(2), "x")


def test_nonnegative_accepts_zero_and_refuses_the_rest():
    assert v.check_nonnegative(0, "m") == 0.0
    for bad in (-1e-12, math.inf, -math.inf, math.nan):
        with pytest.raises(ValueError, match=r"^m must be a finite non-negative number, got"):
            v.check_nonnegative(bad, "m")


def test_interval():
    assert v.check_interval(-1, 2) == (-1.0, 2.0)
    for lo, hi in ((1, 1), (2, 1), (-math.inf, 0), (0, math.inf), (math.nan, 1)):
        with pytest.raises(ValueError, match=r"^need finite low < high, got \["):
            v.check_interval(lo, hi)
    with pytest.raises(TypeError, match="^low must be"):
        v.check_interval("0", 1)
    with pytest.raises(TypeError, match="^high must be"):
        v.check_interval(0, "1")


def test_choice_instance_callable():
    assert v.check_choice("sum", "reduction", ("none", "sum")) == "sum"
    with pytest.raises(ValueError, match=r"^reduction must be one of \('none', 'sum'\), got 'avg'$"):
        v.check_choice("avg", "reduction", ("none", "sum"))
    with pytest.raises(TypeError, match=r"^reduction must be a string, got int$"):
        v.check_choice(1, "reduction", ("none",))
    assert v.check_instance(3, int, "k") == 3
    assert v.check_instance(3.0, (int, float), "k") == 3.0
    with pytest.raises(TypeError, match=r"^k must be an instance of int or float, got str$"):
        v.check_instance("3", (int, float), "k")
    with pytest.raises(TypeError, match=r"^k must be an instance of int, got str$"):
        v.check_instance("3", int, "k")
    f = len
    assert v.check_callable(f, "f") is f
    with pytest.raises(TypeError, match=r"^f must be callable, got int$"):
        v.check_callable(3, "f")


def test_beta_and_margin_keep_tensors():
    b = torch.tensor(2.0, requires_grad=True)
    assert v.check_beta(b) is b
    assert v.check_beta(0.5) == 0.5
    with pytest.raises(ValueError, match="^beta must be positive and finite"):
        v.check_beta(0)
    m = torch.tensor(1.0)
    assert v.check_margin(m) is m and v.check_margin(0) == 0
    with pytest.raises(ValueError, match=r"^margin must be a non-negative number, got -1.0$"):
        v.check_margin(-1)
    with pytest.raises(ValueError, match=r"^gap must be a non-negative number, got nan$"):
        v.check_margin(math.nan, "gap")
    with pytest.raises(ValueError, match=r"^margin must be finite, got inf$"):
        v.check_margin(math.inf)
    assert v.check_reduction("mean") == "mean"
    with pytest.raises(ValueError, match="^reduction must be one of"):
        v.check_reduction("avg")


def test_tensor_checks():
    x = torch.zeros(2, 3)
    assert v.check_float_tensor(x, "x") is x
    with pytest.raises(TypeError, match=r"^x must be a torch.Tensor, got list$"):
        v.check_float_tensor([1.0], "x")
    with pytest.raises(TypeError, match=r"^x must be a floating-point tensor, got dtype torch.int64$"):
        v.check_float_tensor(torch.zeros(2, dtype=torch.long), "x")
    i = torch.tensor([1, 2])
    assert v.check_int_tensor(i, "y") is i
    for bad in (torch.zeros(2), torch.zeros(2, dtype=torch.bool), torch.zeros(2, dtype=torch.complex64)):
        with pytest.raises(TypeError, match="^y must be an integer tensor, got dtype"):
            v.check_int_tensor(bad, "y")
    with pytest.raises(TypeError, match=r"^y must be a torch.Tensor of integers, got list$"):
        v.check_int_tensor([1], "y")
    w = torch.zeros(4)
    assert v.check_vector(w, 4) is w
    with pytest.raises(ValueError, match=r"^w must have shape \(3,\), got \(4,\)$"):
        v.check_vector(w, 3)
    with pytest.raises(ValueError, match=r"^theta must have shape \(4,\), got \(1, 4\)$"):
        v.check_vector(w[None], 4, "theta")
    assert v.check_rows(x, 3, "x") is x
    for bad in (torch.zeros(3), torch.zeros(2, 2), torch.zeros(0, 3), torch.zeros(1, 2, 3)):
        with pytest.raises(ValueError, match=r"^x must have shape \[B, 3\] with B >= 1, got"):
            v.check_rows(bad, 3, "x")


def test_labels_and_batches():
    t = torch.tensor([0, 2], dtype=torch.int32)
    out = v.check_labels(t, 3)
    assert out.dtype == torch.int64 and out.tolist() == [0, 2]
    assert v.check_labels(torch.zeros(0, dtype=torch.long), 1).numel() == 0
    with pytest.raises(IndexError, match=r"^labels must lie in \[0, 2\] for 3 labels, got values in \[0, 3\]$"):
        v.check_labels(torch.tensor([0, 3]), 3)
    with pytest.raises(IndexError, match=r"^y must lie in \[0, 2\] for 3 labels, got values in \[-1, 1\]$"):
        v.check_labels(torch.tensor([-1, 1]), 3, "y")
    assert v.check_batch({"x": 4, "y": 4}) == 4
    assert v.check_batch({"x": 1, "y": 4}) == 4
    assert v.check_batch({"x": 1, "y": 1}) == 1
    with pytest.raises(ValueError, match=r"^batch sizes must be equal or 1, got x: 2, y: 3$"):
        v.check_batch({"x": 2, "y": 3})


def test_pairs_targets_negatives():
    a, b = torch.zeros(3), torch.ones(3)
    assert v.check_pair(a, b) == (a, b)
    with pytest.raises(ValueError, match=r"^energy_pos and energy_neg must have the same shape, got \(3,\) and \(2,\)$"):
        v.check_pair(a, torch.zeros(2))
    with pytest.raises(TypeError, match="^energy_pos and energy_neg must have the same dtype"):
        v.check_pair(a, b.double())
    with pytest.raises(TypeError, match="^energy_neg must be a torch.Tensor"):
        v.check_pair(a, [1.0])
    e = torch.zeros(2, 4)
    e2, t2 = v.check_energies_target(e, torch.tensor([3, 0], dtype=torch.int32))
    assert e2 is e and t2.dtype == torch.int64
    with pytest.raises(ValueError, match="^energies must have a last dimension of labels"):
        v.check_energies_target(torch.zeros(()), torch.tensor(0))
    with pytest.raises(ValueError, match="^energies must have a last dimension of labels"):
        v.check_energies_target(torch.zeros(2, 0), torch.tensor([0, 0]))
    with pytest.raises(ValueError, match=r"^target must have shape \(2,\) \(energies without the label dimension\), got \(3,\)$"):
        v.check_energies_target(e, torch.tensor([0, 1, 2]))
    with pytest.raises(IndexError, match="^target must lie in"):
        v.check_energies_target(e, torch.tensor([0, 4]))
    target = torch.tensor([0, 1])
    assert v.check_negative(torch.tensor([1, 0]), target, 2).tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"^negative must have the shape of target \(2,\), got \(1,\)$"):
        v.check_negative(torch.tensor([1]), target, 2)
    with pytest.raises(ValueError, match="^a negative label equals the correct label of its example$"):
        v.check_negative(torch.tensor([1, 1]), target, 2)
    with pytest.raises(IndexError, match="^negative must lie in"):
        v.check_negative(torch.tensor([2, 0]), target, 2)


def test_dim_two_labels_generator_symbols():
    x = torch.zeros(2, 3)
    assert v.check_dim(x, -2) == -2 and v.check_dim(x, 1) == 1
    assert v.check_dim(torch.tensor(1.0), 0) == 0
    for bad in (2, -3):
        with pytest.raises(IndexError, match=f"^dim {bad} is out of range for a tensor with 2 dimensions$"):
            v.check_dim(x, bad)
    with pytest.raises(TypeError, match=r"^dim must be an int, got bool$"):
        v.check_dim(x, True)
    v.check_two_labels(torch.zeros(3, 2), "the hinge")
    with pytest.raises(ValueError, match=r"^the hinge needs at least 2 labels \(a correct and an incorrect one\), got 1$"):
        v.check_two_labels(torch.zeros(3, 1), "the hinge")
    g = torch.Generator()
    assert v.check_generator(g) is g and v.check_generator(None) is None
    with pytest.raises(TypeError, match=r"^generator must be a torch.Generator or None, got int$"):
        v.check_generator(3)
    a, b = sp.symbols("a b")
    assert v.check_symbols([a, b]) == (a, b)
    with pytest.raises(TypeError, match="^arguments must be sympy Symbols, got a\\*b$"):
        v.check_symbols([a * b])


def test_reduce():
    loss = torch.tensor([1.0, 2.0, 6.0])
    assert v.reduce(loss, "none") is loss
    assert float(v.reduce(loss, "sum")) == 9.0
    assert float(v.reduce(loss, "mean")) == 3.0


# --- found by `make mutation`: messages name the argument that is wrong ---

@pytest.mark.parametrize("call, name", [
    (lambda: v.check_energies_target("e", torch.zeros(2, dtype=torch.long)), "energies"),
    (lambda: v.check_energies_target(torch.zeros(2, 3), "t"), "target"),
    (lambda: v.check_labels("l", 3), "labels"),
    (lambda: v.check_labels([1], 3, "answers"), "answers"),
    (lambda: v.check_negative("n", torch.zeros(2, dtype=torch.long), 3), "negative"),
    (lambda: v.check_pair("p", torch.zeros(2)), "energy_pos"),
    (lambda: v.check_pair(torch.zeros(2), "n"), "energy_neg"),
    (lambda: v.check_rows("r", 2, "centres"), "centres"),
    (lambda: v.check_vector("w", 3, "theta"), "theta"),
    (lambda: v.check_vector("w", 3), "w"),
    (lambda: v.check_margin("m"), "margin"),
    (lambda: v.check_margin("m", "cap"), "cap"),
    (lambda: v.check_nonnegative("x", "sigma"), "sigma"),
])
def test_type_errors_name_the_argument(call, name):
    with pytest.raises(TypeError, match=rf"^{name} must be"):
        call()


def test_shape_messages_quote_the_right_dimensions():
    with pytest.raises(ValueError, match=r"^target must have shape \(2, 4\) \(energies without the label"):
        v.check_energies_target(torch.zeros(2, 4, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"got 1$"):  # the number of labels, not another dimension
        v.check_two_labels(torch.zeros(2, 5, 1), "the hinge")
    with pytest.raises(IndexError, match=r"^dim 1 is out of range for a tensor with 1 dimensions$"):
        v.check_dim(torch.zeros(3), 1)
    assert v.check_dim(torch.zeros(3), 0) == 0 and v.check_dim(torch.tensor(1.0), 0) == 0
