"""Tests of the relational plugins: ring graph attention, ring GCN and the identity."""

from __future__ import annotations

import math
import resource

import pytest
import torch
from pydantic import ValidationError

from dafw.plugins import load_plugins
from dafw_plugins.relational.gcn import RingGCN
from dafw_plugins.relational.identity import IdentityRelational
from dafw_plugins.relational.ring import gather_ring, ring_index, ring_offsets
from dafw_plugins.relational.ring_gat import RingGAT


@pytest.fixture(scope="module")
def registries():
    return load_plugins().registries


def leaky(value: float, slope: float = 0.2) -> float:
    return value if value >= 0 else slope * value


def direct_ring_gat(layer: RingGAT, h: torch.Tensor, neighbour_sets: list[list[int]]):
    """Compute the layer's equations with explicit loops in float64."""
    weight = layer.weight.detach().double()
    vector = layer.attention_vector.detach().double()
    h = h.double()
    n, dim = h.shape
    outputs = []
    for i in range(n):
        total = torch.zeros(dim, dtype=torch.float64)
        for k in range(layer.heads):
            projected = [weight[k] @ h[j] for j in range(n)]
            scores = []
            for j in neighbour_sets[i]:
                pair = torch.cat([projected[i], projected[j]])
                scores.append(leaky(float(vector[k] @ pair), layer.negative_slope))
            largest = max(scores)
            exps = [math.exp(s - largest) for s in scores]
            for j, e in zip(neighbour_sets[i], exps, strict=True):
                total += e / sum(exps) * projected[j]
        outputs.append(total / layer.heads)
    return torch.stack(outputs)


def ring_neighbour_sets(n: int, self_loop: bool) -> list[list[int]]:
    sets = []
    for i in range(n):
        nodes = {(i + 1) % n, (i - 1) % n}
        if self_loop or n == 1:
            nodes.add(i)
        sets.append(sorted(nodes))
    return sets


def test_registry_builds_each_relational(registries):
    h = torch.randn(5, 16)
    for name in ("ring_gat", "gcn", "none"):
        entry = registries["relational"].get(name)
        module = entry.factory(entry.params(), 16)
        assert module(h).shape == (5, 16), name
        assert module.forward_star(h, torch.randn(5, 3, 16)).shape == (5, 16), name


def test_params_reject_unknown_and_loose_types(registries):
    params = registries["relational"].get("ring_gat").params
    with pytest.raises(ValidationError):
        params.model_validate({"head": 4})
    with pytest.raises(ValidationError):
        params.model_validate({"heads": "4"})
    with pytest.raises(ValidationError):
        params.model_validate({"heads": 0})
    with pytest.raises(ValidationError):
        params.model_validate({"activation": "tanh"})
    assert params.model_validate({"negative_slope": 0}).negative_slope == 0.0


def test_ring_offsets_small_rings():
    assert ring_offsets(1, self_loop=True) == [0]
    assert ring_offsets(1, self_loop=False) == [0]
    assert ring_offsets(2, self_loop=True) == [0, 1]
    assert ring_offsets(2, self_loop=False) == [1]
    assert ring_offsets(5, self_loop=False) == [1, -1]
    assert ring_index(4, self_loop=True).tolist() == [[0, 1, 3], [1, 2, 0], [2, 3, 1], [3, 0, 2]]
    with pytest.raises(ValueError):
        ring_offsets(0, self_loop=True)


def test_gather_ring_reads_neighbours():
    x = torch.arange(5)
    gathered = gather_ring(x, [0, 1, -1])
    assert gathered.tolist() == [[0, 1, 4], [1, 2, 0], [2, 3, 1], [3, 4, 2], [4, 0, 3]]


def test_ring_gat_three_nodes_by_hand():
    layer = RingGAT(dim=2, heads=1, activation="none")
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[[1.0, 0.0], [0.0, 2.0]]]))
        layer.attention_vector.copy_(torch.tensor([[1.0, 0.0, 0.0, 1.0]]))
    h = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])

    # W h = [1, 0], [0, 2], [1, 2]; e_ij = LeakyReLU(Wh_i[0] + Wh_j[1]).
    # Node 0 attends to {0, 1, 2}: e = 1, 3, 3.
    weights = torch.tensor([math.exp(1), math.exp(3), math.exp(3)])
    weights = weights / weights.sum()
    expected_node0 = (
        weights[0] * torch.tensor([1.0, 0.0])
        + weights[1] * torch.tensor([0.0, 2.0])
        + weights[2] * torch.tensor([1.0, 2.0])
    )
    output = layer(h)
    torch.testing.assert_close(output[0], expected_node0)

    # Node 1 without the self-loop attends to {0, 2}: e = 0 + 0 and 0 + 2.
    layer.self_loop = False
    weights = torch.tensor([math.exp(0), math.exp(2)])
    weights = weights / weights.sum()
    expected_node1 = weights[0] * torch.tensor([1.0, 0.0]) + weights[1] * torch.tensor([1.0, 2.0])
    torch.testing.assert_close(layer(h)[1], expected_node1)


@pytest.mark.parametrize("self_loop", [True, False])
@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_ring_gat_matches_direct_loops(self_loop, n):
    torch.manual_seed(n)
    layer = RingGAT(dim=5, heads=3, self_loop=self_loop, activation="none")
    h = torch.randn(n, 5)
    expected = direct_ring_gat(layer, h, ring_neighbour_sets(n, self_loop))
    torch.testing.assert_close(layer(h).double(), expected, rtol=1e-5, atol=1e-5)


def test_ring_gat_activation_and_residual():
    torch.manual_seed(0)
    h = torch.randn(6, 4)
    plain = RingGAT(dim=4, heads=2, activation="none")
    for activation, function in [
        ("leaky_relu", lambda x: torch.nn.functional.leaky_relu(x, 0.2)),
        ("relu", torch.relu),
        ("elu", torch.nn.functional.elu),
    ]:
        layer = RingGAT(dim=4, heads=2, activation=activation)
        layer.load_state_dict(plain.state_dict())
        torch.testing.assert_close(layer(h), function(plain(h)))
    residual = RingGAT(dim=4, heads=2, activation="none", residual=True)
    residual.load_state_dict(plain.state_dict())
    torch.testing.assert_close(residual(h), plain(h) + h)


def check_attention_rows(alpha: torch.Tensor) -> None:
    assert alpha.dtype == torch.float32
    assert torch.isfinite(alpha).all()
    assert (alpha >= 0).all()
    torch.testing.assert_close(alpha.sum(dim=1), torch.ones_like(alpha.sum(dim=1)))


def test_ring_gat_attention_rows_sum_to_one():
    torch.manual_seed(0)
    layer = RingGAT(dim=8, heads=4)
    h = torch.randn(10, 8)
    alpha, index = layer.attention(h)
    assert alpha.shape == (10, 3, 4)
    assert index.shape == (10, 3)
    check_attention_rows(alpha)
    check_attention_rows(layer.attention(h * 1e4)[0])
    assert torch.isfinite(layer(h * 1e4)).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_ring_gat_half_precision_finite(dtype):
    torch.manual_seed(0)
    layer = RingGAT(dim=8, heads=4).to(dtype)
    h = (torch.randn(12, 8) * 1e4).to(dtype)
    try:
        output = layer(h)
    except RuntimeError as error:  # an operator without a CPU kernel for this dtype
        pytest.skip(f"{dtype} not supported on this CPU build: {error}")
    assert output.dtype == dtype
    assert torch.isfinite(output).all()
    check_attention_rows(layer.attention(h)[0])


def test_ring_gat_equivariant_under_ring_automorphisms():
    torch.manual_seed(0)
    layer = RingGAT(dim=6, heads=2)
    h = torch.randn(9, 6)
    output = layer(h)
    for shift in (1, 4, -2):
        torch.testing.assert_close(layer(torch.roll(h, shift, 0)), torch.roll(output, shift, 0))
    reflection = torch.flip(torch.arange(9), dims=[0])
    torch.testing.assert_close(layer(h[reflection]), output[reflection])


def test_ring_gat_general_permutation_rebuilds_ring():
    torch.manual_seed(1)
    layer = RingGAT(dim=4, heads=2, activation="none")
    h = torch.randn(6, 4)
    permutation = torch.tensor([3, 0, 5, 1, 4, 2])
    permuted = h[permutation]
    expected = direct_ring_gat(layer, permuted, ring_neighbour_sets(6, self_loop=True))
    torch.testing.assert_close(layer(permuted).double(), expected, rtol=1e-5, atol=1e-5)
    # This permutation is not a ring automorphism, so the rows do not simply move along.
    assert not torch.allclose(layer(permuted), layer(h)[permutation])


def test_ring_gat_tiny_rings_deterministic():
    torch.manual_seed(0)
    for self_loop in (True, False):
        layer = RingGAT(dim=4, heads=2, self_loop=self_loop)
        single = torch.randn(1, 4)
        first = layer(single)
        assert torch.equal(first, layer(single))
        expected = torch.nn.functional.leaky_relu(
            torch.einsum("kij,j->ki", layer.weight, single[0]).mean(0), 0.2
        )
        torch.testing.assert_close(first[0], expected)

        pair = torch.randn(2, 4)
        alpha, index = layer.attention(pair)
        assert torch.isfinite(layer(pair)).all()
        assert torch.equal(layer(pair), layer(pair))
        if self_loop:
            assert index.tolist() == [[0, 1], [1, 0]]
        else:
            assert index.tolist() == [[1], [0]]
            assert torch.equal(alpha, torch.ones(2, 1, 2))


def test_ring_gat_forward_star_equals_ring_of_three():
    torch.manual_seed(0)
    layer = RingGAT(dim=5, heads=3)
    nodes = torch.randn(3, 5)
    star = layer.forward_star(nodes[:1], nodes[1:].unsqueeze(0))
    torch.testing.assert_close(star, layer(nodes)[:1])


def test_ring_gat_forward_star_direct_loops():
    torch.manual_seed(0)
    for self_loop in (True, False):
        layer = RingGAT(dim=3, heads=2, self_loop=self_loop, activation="none")
        query = torch.randn(2, 3)
        neighbours = torch.randn(2, 4, 3)
        output = layer.forward_star(query, neighbours)
        for b in range(2):
            nodes = torch.cat([query[b : b + 1], neighbours[b]])
            members = [0, 1, 2, 3, 4] if self_loop else [1, 2, 3, 4]
            sets = [members] + [[j] for j in range(1, 5)]
            expected = direct_ring_gat(layer, nodes, sets)[0]
            torch.testing.assert_close(output[b].double(), expected, rtol=1e-5, atol=1e-5)


def test_ring_gat_forward_star_without_neighbours():
    layer = RingGAT(dim=4, heads=2, self_loop=False)
    query = torch.randn(3, 4)
    output = layer.forward_star(query, torch.empty(3, 0, 4))
    for b in range(3):
        torch.testing.assert_close(output[b : b + 1], layer(query[b : b + 1]))


def test_ring_gat_rejects_bad_shapes():
    layer = RingGAT(dim=4)
    with pytest.raises(ValueError, match="expected features"):
        layer(torch.randn(3, 5))
    with pytest.raises(ValueError, match="expected features"):
        layer(torch.randn(0, 4))
    with pytest.raises(ValueError, match="neighbours"):
        layer.forward_star(torch.randn(2, 4), torch.randn(3, 1, 4))


class LargestTensorMode(torch.overrides.TorchFunctionMode):
    """Record the largest tensor any torch function returns."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for value in result if isinstance(result, (tuple, list)) else (result,):
            if isinstance(value, torch.Tensor):
                self.largest = max(self.largest, value.numel())
        return result


def test_ring_gat_never_builds_n_by_n():
    n, dim, heads = 2000, 8, 4
    layer = RingGAT(dim=dim, heads=heads)
    h = torch.randn(n, dim, requires_grad=True)
    with LargestTensorMode() as mode:
        layer(h).sum().backward()
    assert mode.largest <= n * 3 * heads * dim
    assert mode.largest < n * n


def test_ring_gat_large_batch_modest_memory():
    # An n x n float32 matrix for 120k rows would take 57.6 GB.
    layer = RingGAT(dim=8, heads=4)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        output = layer(torch.randn(120_000, 8))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert output.shape == (120_000, 8)
    assert grown_kib < 1024 * 1024


def dense_normalised_ring(n: int) -> torch.Tensor:
    adjacency = torch.eye(n)
    for i in range(n):
        adjacency[i, (i + 1) % n] = 1.0
        adjacency[i, (i - 1) % n] = 1.0
    degree = adjacency.sum(1)
    return adjacency / torch.sqrt(degree[:, None] * degree[None, :])


def densify(index: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    n = index.shape[0]
    dense = torch.zeros(n, n)
    for i in range(n):
        for s in range(index.shape[1]):
            dense[i, index[i, s]] += weight[i, s]
    return dense


def test_gcn_adjacency_ring_of_four_by_hand():
    third = 1.0 / 3.0
    expected = torch.tensor(
        [
            [third, third, 0.0, third],
            [third, third, third, 0.0],
            [0.0, third, third, third],
            [third, 0.0, third, third],
        ]
    )
    index, weight = RingGCN.normalised_adjacency(4)
    torch.testing.assert_close(densify(index, weight), expected)


def test_gcn_adjacency_small_and_general_rings():
    torch.testing.assert_close(densify(*RingGCN.normalised_adjacency(1)), torch.ones(1, 1))
    torch.testing.assert_close(densify(*RingGCN.normalised_adjacency(2)), torch.full((2, 2), 0.5))
    torch.testing.assert_close(densify(*RingGCN.normalised_adjacency(7)), dense_normalised_ring(7))


@pytest.mark.parametrize("n", [1, 3, 6])
def test_gcn_forward_matches_dense(n):
    torch.manual_seed(n)
    layer = RingGCN(dim=4, activation="none")
    with torch.no_grad():
        layer.bias.uniform_(-1, 1)
    h = torch.randn(n, 4)
    adjacency = dense_normalised_ring(n) if n >= 3 else densify(*RingGCN.normalised_adjacency(n))
    expected = adjacency @ h @ layer.linear.weight.T + layer.bias
    torch.testing.assert_close(layer(h), expected)


def test_gcn_forward_star_matches_dense_star():
    torch.manual_seed(0)
    layer = RingGCN(dim=3, activation="relu")
    query = torch.randn(2, 3)
    neighbours = torch.randn(2, 4, 3)
    output = layer.forward_star(query, neighbours)

    size = 5
    adjacency = torch.eye(size)
    adjacency[0, 1:] = 1.0
    adjacency[1:, 0] = 1.0
    degree = adjacency.sum(1)
    normalised = adjacency / torch.sqrt(degree[:, None] * degree[None, :])
    assert normalised[0, 0] == pytest.approx(1 / 5)
    assert normalised[0, 1] == pytest.approx(1 / math.sqrt(10))
    for b in range(2):
        nodes = torch.cat([query[b : b + 1], neighbours[b]])
        expected = torch.relu(normalised @ nodes @ layer.linear.weight.T + layer.bias)[0]
        torch.testing.assert_close(output[b], expected)


def test_identity_returns_inputs():
    layer = IdentityRelational(dim=4)
    h = torch.randn(3, 4)
    assert layer(h) is h
    assert layer.forward_star(h, torch.randn(3, 2, 4)) is h
