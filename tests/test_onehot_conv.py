"""The table-lookup first block (engine/onehot_conv.py) against torch's modules on one-hot input."""
import numpy as np
import pytest
import torch

from motifprobe.engine.onehot_conv import chunk_tables, conv_pool_relu
from motifprobe.engine.sequences import one_hot
from motifprobe.plugins.models.torch_cnn import TorchCNN, _batch

# torch warns that an even kernel with padding="same" pads a copy: the reference's cost, not ours
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def _torch_block(codes, conv, pool):
    with torch.inference_mode():
        x = torch.from_numpy(one_hot(codes))
        return torch.nn.functional.max_pool1d(torch.relu(conv(x)), pool).numpy()


@pytest.mark.parametrize("kernel,filters,length,pool,chunk", [
    (15, 32, 200, 4, 5), (14, 8, 103, 4, 5), (1, 4, 10, 2, 5), (7, 16, 50, 3, 3), (30, 5, 64, 4, 4),
    (5, 3, 23, 1, 2), (9, 6, 40, 5, 1), (6, 7, 31, 4, 6), (2, 2, 9, 4, 5)])
def test_table_block_equals_conv_relu_maxpool_on_one_hot(kernel, filters, length, pool, chunk):
    torch.manual_seed(kernel * 100 + filters)
    conv = torch.nn.Conv1d(4, filters, kernel, padding="same")
    # codes past 3 (N, and anything else) are all-zero columns in one-hot: the table reads them as N
    codes = np.random.default_rng(kernel).integers(0, 7, (41, length)).astype(np.uint8)
    codes[0] = 4  # an all-N row: bias only
    expected = _torch_block(codes, conv, pool)
    got = conv_pool_relu(codes, chunk_tables(conv.weight.detach().numpy(), chunk), conv.bias.detach().numpy(),
                         kernel, pool)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert np.any(got > 0) and np.any(got == 0)  # the ReLU both passed and cut


def test_table_block_of_no_rows_and_of_rows_shorter_than_the_pool():
    tables, bias = chunk_tables(np.ones((3, 4, 5), np.float32)), np.zeros(3, np.float32)
    assert conv_pool_relu(np.zeros((0, 20), np.uint8), tables, bias, 5, 4).shape == (0, 3, 5)
    assert conv_pool_relu(np.zeros((2, 3), np.uint8), tables, bias, 5, 4).shape == (2, 3, 0)


def test_chunk_tables_refuses_a_convolution_that_is_not_over_four_channels():
    with pytest.raises(ValueError, match="4 input channels, got 5"):
        chunk_tables(np.zeros((8, 5, 3)))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 4, (700, 60)).astype(np.uint8)
    labels = rng.integers(0, 2, 700)
    codes[labels == 1, 20:28] = [0, 1, 2, 3, 3, 2, 1, 0]
    return codes, labels


def _fitted(norm, data, **params):
    x, y = data
    return TorchCNN(epochs=2, min_epochs=1, n_filters=8, hidden=8, norm=norm, **params).fit(x[:300], y[:300], seed=0)


def _module_probs(model, codes):
    with torch.inference_mode():
        return torch.softmax(model.net_.eval()(_batch(codes)), dim=1).numpy()


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_torch_cnn_predicts_through_the_table_as_its_modules_do(norm, data):
    model = _fitted(norm, data)
    codes = data[0][300:700].copy()
    codes[:5, 10:30] = 4  # N runs
    got = model.predict_proba(codes)
    assert model._table_cache[1] is not None  # the table path ran
    np.testing.assert_allclose(got, _module_probs(model, codes), rtol=0, atol=2e-6)
    model.params["table_conv"] = False
    np.testing.assert_allclose(model.predict_proba(codes), got, rtol=0, atol=2e-6)


def test_torch_cnn_group_norm_has_no_table_form_and_uses_its_modules(data):
    model = _fitted("group", data)
    codes = data[0][300:400]
    np.testing.assert_array_equal(model.predict_proba(codes), _module_probs(model, codes))
    assert model._table_cache[1] is None


def test_torch_cnn_table_follows_weights_written_in_place(data):
    model = _fitted("none", data)
    codes = data[0][300:400]
    before = model.predict_proba(codes)
    with torch.no_grad():
        model.net_[0].weight.mul_(-2.0)
        model.net_[0].bias.add_(0.5)
    after = model.predict_proba(codes)
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, _module_probs(model, codes), rtol=0, atol=2e-6)
