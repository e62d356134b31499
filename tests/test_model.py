from __future__ import annotations

import torch
from torch import nn

from xornet.config import Architecture, Recipe
from xornet.model import MLP, count_parameters


def test_tutorial_model_layers_and_parameter_count():
    model = MLP(Recipe().architecture(2, 2))
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.Sigmoid]
    assert (model.layers[0].in_features, model.layers[0].out_features) == (2, 3)
    assert (model.layers[2].in_features, model.layers[2].out_features) == (3, 2)
    assert count_parameters(model) == 17
    assert model.architecture.n_parameters == 17


def test_model_output_shape_and_range():
    model = MLP(Architecture(n_inputs=3, n_outputs=2, hidden_sizes=(5, 4)))
    outputs = model(torch.rand(7, 3))
    assert outputs.shape == (7, 2)
    assert bool(((outputs > 0) & (outputs < 1)).all())


def test_default_init_matches_nn_linear():
    torch.manual_seed(5)
    model = MLP(Recipe().architecture(2, 2))
    torch.manual_seed(5)
    first, second = nn.Linear(2, 3), nn.Linear(3, 2)
    assert torch.equal(model.layers[0].weight, first.weight)
    assert torch.equal(model.layers[2].bias, second.bias)


def test_logits_model_sigmoid_only_in_predict():
    model = MLP(Recipe(loss="bce-with-logits").architecture(2, 1))
    assert not any(isinstance(layer, nn.Sigmoid) for layer in model.layers)
    inputs = torch.rand(4, 2)
    assert torch.allclose(model.predict(inputs), torch.sigmoid(model(inputs)))
