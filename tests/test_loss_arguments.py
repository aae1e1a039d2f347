"""The losses of learning without Z (part 2) name the argument that is wrong, and keep their defaults.

Written after `make mutation`: each test below fails under mutants of
``ebm_utils.losses`` that the behavioural tests let through (a message naming
another argument, a default reduction other than the mean, a batch axis
counted from the wrong end).
"""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.losses import (
    denoising_score_matching_loss,
    nce_loss,
    sampled_softmax_loss,
    score_matching_loss,
)

g = torch.Generator().manual_seed(0)
B, D, K = 5, 2, 3


def _t(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64)


VALID = {
    "score_matching_loss": (score_matching_loss, {"grad_energy": _t(B, D), "laplacian": _t(B)}),
    "denoising_score_matching_loss": (denoising_score_matching_loss,
                                      {"grad_energy_noisy": _t(B, D), "noisy": _t(B, D), "clean": _t(B, D),
                                       "sigma": 0.5}),
    "nce_loss": (nce_loss, {"energy_data": _t(B), "energy_noise": _t(B + 2),
                            "noise_logp_data": -_t(B).abs(), "noise_logp_noise": -_t(B + 2).abs()}),
    "sampled_softmax_loss": (sampled_softmax_loss, {"energy_pos": _t(B), "energy_neg": _t(B, K),
                                                    "log_q": -_t(B, K).abs() - 0.1}),
}
TENSOR_ARGS = [(loss, arg) for loss, (_, kw) in VALID.items() for arg, val in kw.items() if torch.is_tensor(val)]
# the messages for a non-finite value; the noise log-probabilities say what their infinity means
FINITE_WORDS = {
    ("nce_loss", "noise_logp_data"): "the noise log-probability at the data points (a non-finite value) must be finite",
    ("nce_loss", "noise_logp_noise"): "the noise log-probability at the noise points (a non-finite value) must be finite",
    ("sampled_softmax_loss", "log_q"): "log_q (the log-probabilities of the drawn negatives) must be finite",
}


@pytest.mark.parametrize("loss, arg", TENSOR_ARGS)
def test_a_non_tensor_is_refused_by_name(loss, arg):
    fn, kw = VALID[loss]
    with pytest.raises(TypeError, match=rf"^{arg} must be a torch.Tensor"):
        fn(**{**kw, arg: kw[arg].tolist()})


@pytest.mark.parametrize("loss, arg", TENSOR_ARGS)
def test_a_non_finite_value_is_refused_by_name(loss, arg):
    fn, kw = VALID[loss]
    bad = kw[arg].clone()
    bad.view(-1)[0] = -math.inf
    expected = FINITE_WORDS.get((loss, arg), f"{arg} must be finite")
    with pytest.raises(ValueError, match=rf"^{expected.replace('(', '[(]').replace(')', '[)]')}$"):
        fn(**{**kw, arg: bad})


@pytest.mark.parametrize("loss", sorted(VALID))
def test_the_default_reduction_is_the_mean(loss):
    fn, kw = VALID[loss]
    assert torch.equal(fn(**kw), fn(**kw, reduction="mean"))
    assert torch.equal(fn(**kw), fn(**kw, reduction="none").mean())


def test_sigma_is_named():
    fn, kw = VALID["denoising_score_matching_loss"]
    with pytest.raises(ValueError, match=r"^sigma must be positive"):
        fn(**{**kw, "sigma": 0.0})


def test_nce_accepts_a_single_point_on_either_side():
    one = torch.tensor([0.3], dtype=torch.float64)
    loss = nce_loss(one, one, -one.abs(), -one.abs(), reduction="none")
    assert loss.shape == (2,) and bool(torch.isfinite(loss).all())


def test_sampled_softmax_works_over_any_leading_axes():
    pos, neg = _t(2, B), _t(2, B, K)  # two batches of B examples
    per_example = sampled_softmax_loss(pos, neg, reduction="none")
    assert per_example.shape == (2, B)
    for a in range(2):
        assert torch.allclose(per_example[a], sampled_softmax_loss(pos[a], neg[a], reduction="none"),
                              rtol=0, atol=1e-15)


def test_sampled_softmax_correction_over_leading_axes_and_temperatures():
    pos, neg, lq = _t(2, B), _t(2, B, K), -_t(2, B, K).abs() - 0.1
    for beta in (1.0, 2.5):
        whole = sampled_softmax_loss(pos, neg, lq, beta=beta, reduction="none")
        for a in range(2):
            part = sampled_softmax_loss(pos[a], neg[a], lq[a], beta=beta, reduction="none")
            assert torch.allclose(whole[a], part, rtol=0, atol=1e-14)
    # the correction, written out: F~_j = F_j + (log q_j + log k) / beta
    beta = 2.5
    shifted = neg[0] + (lq[0] + math.log(K)) / beta
    direct = torch.logsumexp(torch.cat([torch.zeros(B, 1, dtype=torch.float64),
                                        -beta * (shifted - pos[0][:, None])], 1), 1) / beta
    assert torch.allclose(sampled_softmax_loss(pos[0], neg[0], lq[0], beta=beta, reduction="none"), direct,
                          rtol=0, atol=1e-14)


def test_sampled_softmax_messages_and_the_log_q_bound():
    pos, neg = _t(B), _t(B, K)
    with pytest.raises(ValueError, match=r"^sampled_softmax_loss needs k >= 1 negatives per example, got 0$"):
        sampled_softmax_loss(pos, neg[:, :0])
    with pytest.raises(ValueError, match=r"^energy_neg must have shape \(5,\) \+ \(k,\), got \(4, 3\)$"):
        sampled_softmax_loss(pos, neg[:4])
    at_bound = torch.full((B, K), 1e-12, dtype=torch.float64)  # rounding above 0 is tolerated up to 1e-12
    assert bool(torch.isfinite(sampled_softmax_loss(pos, neg, at_bound)))
    with pytest.raises(ValueError, match=r"^log_q holds log-probabilities: every value must be at most 0$"):
        sampled_softmax_loss(pos, neg, at_bound * 2)


def test_score_matching_laplacian_shape_message():
    with pytest.raises(ValueError, match=r"^laplacian must have shape \[5\] \(one per point\), got \(2,\)$"):
        score_matching_loss(_t(B, D), _t(D))


def test_shift_derivative_fixes_the_most_offending_negative_and_passes_its_options():
    from ebm_utils.losses import most_offending, shift_derivative

    e = torch.tensor([[0.5, 1.0, 2.0], [1.5, 0.2, 0.3]], dtype=torch.float64)
    t = torch.tensor([0, 2])
    # square-square: d/dc [(F+ + c)^2 + ([m - F- - c]^+)^2] = 2 F+ - 2 [m - F-]^+, F- the most offending
    assert shift_derivative("square_square", e, t).tolist() == [1.0, -1.0]
    assert shift_derivative("square_square", e, t, margin=2.0).tolist() == [-1.0, -3.0]
    assert torch.equal(shift_derivative("square_square", e, t), shift_derivative("square_square", e, t, most_offending(e, t)))
    with pytest.raises(ValueError, match=r"^energies must have shape \[B, n\], got \(3,\)$"):
        shift_derivative("nll", e[0], t[:1])
    with pytest.raises(TypeError, match=r"^shift_derivative is per example: it takes no reduction$"):
        shift_derivative("nll", e, t, reduction="sum")
    with pytest.raises(TypeError, match=r"^energies must be a torch.Tensor"):
        shift_derivative("nll", e.tolist(), t)


# --- the losses of chapters 1.2-1.3 and the zoo: defaults, names, boundaries ---

def test_defaults_are_the_documented_values():
    import ebm_utils.losses as L

    pos, neg = _t(B), _t(B)
    e, t = _t(B, 4), torch.tensor([0, 1, 2, 3, 0])
    assert torch.equal(L.free_energy(e), L.free_energy(e, 1.0))
    assert torch.equal(L.tempered_softplus(pos), L.tempered_softplus(pos, 1.0))
    assert torch.equal(L.simple_loss(pos, neg), L.simple_loss(pos, neg, 1.0))
    assert torch.equal(L.square_exp_loss(pos, neg), L.square_exp_loss(pos, neg, 1.0))
    assert torch.equal(L.ramp_loss(pos, neg), L.ramp_loss(pos, neg, 1.0, 2.0, "mean"))
    assert torch.equal(L.pair_loss("hinge", pos, neg), L.pair_loss("hinge", pos, neg, 1.0))
    for name in L.ZOO_NAMES:
        if name not in ("NLL", "MEE"):
            assert torch.equal(L.zoo_pair_loss(name, pos, neg),
                               L.zoo_pair_loss(name, pos, neg, margin=1.0, saturation=1.0, gamma=1.0, beta=1.0))
    assert torch.equal(L.loss_from_energies("hinge", e, t), L.loss_from_energies("hinge", e, t, margin=1.0))
    assert torch.equal(L.loss_from_energies("nll", e, t), L.loss_from_energies("nll", e, t, beta=1.0))
    gaps = torch.linspace(-2, 2, 9, dtype=torch.float64)
    for a, b in zip(L.zoo_gap_profile("hinge", gaps), L.zoo_gap_profile("hinge", gaps, level=1.0)):
        assert torch.equal(a, b)
    # and they matter: another value gives another answer
    assert not torch.equal(L.free_energy(e), L.free_energy(e, 2.0))
    assert not torch.equal(L.ramp_loss(pos, neg), L.ramp_loss(pos, neg, 1.0, 3.0))


@pytest.mark.parametrize("call, words", [
    ("energy_loss(x)", "energy_pos must be"),
    ("free_energy(x)", "energies must be"),
    ("gibbs_distribution(x)", "energies must be"),
    ("most_offending(x, t)", "energies must be"),
    ("tempered_softplus(x)", "u must be"),
    ("zoo_gap_profile('hinge', x)", "gaps must be"),
    ("loss_info(3)", "loss name must be"),
    ("lvq2_loss(p, p, saturation=0.0)", "saturation must be"),
    ("ramp_loss(p, p, cap=0.0)", "cap must be"),
    ("square_exp_loss(p, p, gamma=0.0)", "gamma must be"),
    ("most_offending_incorrect(one, t[:1])", "most_offending_incorrect needs at least 2 labels"),
    ("loss_from_energies('nll', e, t, t)", "the NLL loss uses every label: do not pass negative$"),
    ("zoo_gap_profile('hinge', p, reduction='sum')", "zoo_gap_profile is per gap: it takes no reduction$"),
    ("zoo_pair_gradient('hinge', p, p, reduction='sum')", "zoo_pair_gradient is per pair: it takes no reduction$"),
    ("zoo_pair_loss('nope', p, p)", "loss name must be one of"),
    ("zoo_gap_profile('hinge', p, level=True)", "level"),
    ("score_matching_loss(torch.zeros(0, 2, dtype=torch.float64), torch.zeros(0, dtype=torch.float64))",
     r"grad_energy must have shape \[B, d\], got \(0, 2\)$"),
])
def test_messages_name_the_argument(call, words):
    import ebm_utils.losses as L

    scope = {**vars(L), "torch": torch, "x": [1.0, 2.0], "p": _t(B), "e": _t(B, 4), "one": _t(1, 1),
             "t": torch.tensor([0, 1, 2, 3, 0])}
    with pytest.raises((TypeError, ValueError), match=rf"^{words}" if words != "level" else "level"):
        eval(call, scope)  # noqa: S307 - a fixed table of calls


def test_a_single_point_is_a_batch():
    one = _t(1, D)
    assert score_matching_loss(one, _t(1), reduction="none").shape == (1,)


def test_zoo_gradients_are_tensors_even_where_a_loss_ignores_one_energy():
    import ebm_utils.losses as L

    pos, neg = _t(B), _t(B)
    d_pos, d_neg = L.zoo_pair_gradient("energy", pos, neg)  # the energy loss ignores E_I
    assert torch.equal(d_neg, torch.zeros(B, dtype=torch.float64)) and torch.equal(d_pos, torch.ones(B, dtype=torch.float64))

