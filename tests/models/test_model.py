"""The residual MLP matches the paper's architecture."""

import torch

from calbio.models.cal.module import ResidualAssociationMLP, count_parameters


def test_paper_parameter_count() -> None:
    assert count_parameters(ResidualAssociationMLP(50, 1024, 3)) == 2_208_919


def test_layer_structure_and_gate_init() -> None:
    m = ResidualAssociationMLP(50, 1024, 3)
    kinds = [type(layer).__name__ for layer in m.g]
    assert kinds == ["Linear", "LayerNorm", "GELU"] * 3 + ["Linear", "LayerNorm"]
    assert m.g[0].in_features == 50 and m.g[-2].out_features == 50
    assert float(m.gate_logit.detach()) == 0.0  # a = sigmoid(0) = 0.5 at init


def test_output_is_unit_norm_and_gated_mix() -> None:
    torch.manual_seed(0)
    m = ResidualAssociationMLP(8, 16, 2)
    x = torch.nn.functional.normalize(torch.randn(5, 8), dim=-1)
    y = m(x)
    assert torch.allclose(y.norm(dim=-1), torch.ones(5), atol=1e-5)
    with torch.no_grad():
        m.gate_logit.fill_(30.0)  # a -> 1: f(x) -> x
    assert torch.allclose(m(x), x, atol=1e-5)
