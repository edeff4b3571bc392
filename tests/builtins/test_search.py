"""The batched back-propagation latent searcher: per-image equivalence, convergence, frozen nets."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from ganaug.host.loading import make_plugin_host
from ganaug.recipe.convert import make_converter, structure
from ganaug_plugins.searchers.backprop import BackpropOptions, BackpropSearcher, recorded_steps

SIZE = 16


class ToyGenerator(nn.Module):
    """A tiny DCGAN-like generator with BatchNorm; conditional when ``conditional`` is set."""

    def __init__(self, latent_dim: int = 8, conditional: bool = False) -> None:
        super().__init__()
        self.latent_dim, self.conditional = latent_dim, conditional
        extra = 4 if conditional else 0
        self.project = nn.Linear(latent_dim + extra, 16 * 4 * 4)
        self.encode = nn.Sequential(nn.AvgPool2d(4), nn.Flatten(), nn.Linear(16, 4)) if conditional else None
        self.net = nn.Sequential(
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 8, 4, 2, 1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 1, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        if self.encode is not None:
            assert x is not None
            z = torch.cat([z, self.encode(x)], dim=1)
        return self.net(self.project(z).view(-1, 16, 4, 4))


class ToyDiscriminator(nn.Module):
    """A tiny CNN returning (logits[N], features); counts calls and calls on given inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 16, 4, 2, 1), nn.BatchNorm2d(16)
        )
        self.head = nn.Linear(16 * 4 * 4, 1)
        self.inputs: list[Tensor] = []

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.inputs.append(x.detach().clone())
        f = self.features(x)
        return self.head(f.flatten(1)).flatten(), f


def warmed(module: nn.Module, *inputs: Tensor) -> nn.Module:
    """Give BatchNorm layers non-trivial running statistics, then leave the module in eval mode."""
    torch.manual_seed(3)
    module.train()
    with torch.no_grad():
        module(*inputs)
    return module.eval()


def nets(conditional: bool = False) -> tuple[ToyGenerator, ToyDiscriminator, Tensor]:
    torch.manual_seed(0)
    g, d = ToyGenerator(conditional=conditional), ToyDiscriminator()
    x = torch.rand(32, 1, SIZE, SIZE) * 2 - 1
    warmed(g, torch.randn(32, g.latent_dim) * 2, x) if conditional else warmed(g, torch.randn(32, 8) * 2)
    warmed(d, x)
    d.inputs.clear()
    return g, d, x[:6]


def searcher(**kw: object) -> BackpropSearcher:
    return BackpropSearcher(BackpropOptions(**{"steps": 25, "chunk_size": 64, "record_every": 5, **kw}))


@pytest.mark.parametrize("conditional", [False, True])
def test_batched_search_equals_one_image_at_a_time(conditional: bool) -> None:
    g, d, queries = nets(conditional)
    s = searcher(feature_weight=0.3)
    z0 = s.initial_z(len(queries), g.latent_dim, seed=5)
    batched = s.search(g, d, queries, seed=0, z_init=z0)
    for i in range(len(queries)):
        alone = s.search(g, d, queries[i : i + 1], seed=0, z_init=z0[i : i + 1])
        torch.testing.assert_close(alone.z[0], batched.z[i], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(alone.score[0], batched.score[i], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(alone.loss_history[:, 0], batched.loss_history[:, i], rtol=1e-4, atol=1e-4)
    # z moved: the equivalence is not trivially about z that never changed
    assert (batched.z - z0).abs().max() > 0.1


def test_chunking_does_not_change_results() -> None:
    g, d, queries = nets()
    whole = searcher().search(g, d, queries, seed=11)
    parts = searcher(chunk_size=4).search(g, d, queries, seed=11)
    torch.testing.assert_close(whole.z_initial, parts.z_initial, rtol=0, atol=0)
    torch.testing.assert_close(whole.score, parts.score, rtol=1e-4, atol=1e-4)


def test_search_lowers_the_loss_substantially() -> None:
    g, d, _ = nets()
    target_z = torch.randn(6, g.latent_dim, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        queries = g(target_z)  # images the generator can make: the search must find them
    result = searcher(steps=200, feature_weight=0.2).search(g, d, queries, seed=1)
    assert result.score.mean() < 0.25 * result.initial_score.mean()
    assert bool((result.score < result.initial_score).all())
    # the recorded curve goes down overall
    assert result.loss_history[-1].mean() < result.loss_history[0].mean()


def test_sgd_optimiser_also_descends() -> None:
    g, d, queries = nets()
    result = searcher(optimizer="sgd", lr=1e-3, steps=40).search(g, d, queries, seed=1)
    assert result.score.mean() < result.initial_score.mean()


def test_result_fields_are_consistent() -> None:
    g, d, queries = nets()
    s = searcher(steps=12, record_every=5, feature_weight=0.4, z_clamp=1.0)
    r = s.search(g, d, queries, seed=2)
    n = len(queries)
    assert r.z.shape == r.z_initial.shape == (n, g.latent_dim)
    assert r.generated.shape == queries.shape
    assert r.loss_history.shape == (len(recorded_steps(12, 5)), n) == (4, n)
    assert s.recorded_steps == [0, 5, 10, 12]
    torch.testing.assert_close(r.score, 0.6 * r.residual + 0.4 * r.discrimination)
    torch.testing.assert_close(r.loss_history[0], r.initial_score)
    torch.testing.assert_close(r.loss_history[-1], r.score)
    assert float(r.z.abs().max()) <= 1.0  # clamped to the prior's box
    with torch.no_grad():
        expected = (queries - g(r.z)).abs().flatten(1).sum(1)
    torch.testing.assert_close(r.residual, expected, rtol=1e-5, atol=1e-4)
    again = s.search(g, d, queries, seed=2)
    assert torch.equal(again.z, r.z)  # bit-reproducible on the CPU


def test_features_of_the_query_are_computed_once_per_chunk() -> None:
    g, d, queries = nets()
    steps = 7
    searcher(steps=steps, chunk_size=4).search(g, d, queries, seed=0)
    chunks = 2  # 6 queries in chunks of 4
    assert len(d.inputs) == chunks * (steps + 2)  # f(x) once, one per step, one final
    on_real = sum(any(x.shape == q.shape and torch.equal(x, q) for q in queries.split(4)) for x in d.inputs)
    assert on_real == chunks


def test_networks_are_frozen_in_eval_mode_and_restored() -> None:
    g, d, queries = nets()
    g.train()  # the caller's mode must come back, but the search must run in eval mode
    d.features[0].weight.requires_grad_(False)
    stats = {k: t.clone() for k, t in g.state_dict().items() if "running" in k or "num_batches" in k}
    seen_modes: list[bool] = []
    hook = g.net[0].register_forward_hook(lambda m, i, o: seen_modes.append(m.training))
    searcher(steps=5).search(g, d, queries, seed=0)
    hook.remove()
    assert seen_modes and not any(seen_modes)
    assert g.training and all(m.training for m in g.modules())
    assert not d.training
    for key, value in stats.items():
        assert torch.equal(g.state_dict()[key], value), key
    assert all(p.requires_grad for p in g.parameters())
    assert not d.features[0].weight.requires_grad
    assert d.features[2].weight.requires_grad
    assert all(p.grad is None for p in [*g.parameters(), *d.parameters()])


def test_wrong_z_init_shape_is_refused() -> None:
    g, d, queries = nets()
    with pytest.raises(ValueError, match="z_init"):
        searcher().search(g, d, queries, seed=0, z_init=torch.zeros(2, g.latent_dim))


def test_registered_and_options_checked() -> None:
    registry = make_plugin_host(builtins=["ganaug_plugins.searchers.plugin"], entry_points=False).registry
    component = registry.get("latent_searchers", "backprop")
    options, problems = structure(make_converter(), {"steps": 10, "optimizer": "sgd"}, component.options, "s")
    assert not problems and options.steps == 10 and options.feature_weight == 0.2
    assert isinstance(component.build(options), BackpropSearcher)
    _, problems = structure(make_converter(), {"steps": -1, "feature_weight": 1.5}, component.options, "s")
    assert {p.path for p in problems} == {"s.steps", "s.feature_weight"}
    _, problems = structure(make_converter(), {"optimizer": "lbfgs"}, component.options, "s")
    assert [p.path for p in problems] == ["s.optimizer"]
    defaults = BackpropOptions()
    assert (defaults.steps, defaults.feature_weight, defaults.optimizer) == (500, 0.2, "adam")


def test_the_prior_option_is_z_prior_and_z_init_is_a_renamed_key() -> None:
    options, problems = structure(make_converter(), {"z_prior": "uniform"}, BackpropOptions, "s")
    assert not problems
    z = BackpropSearcher(options).initial_z(500, 4, seed=0)
    assert float(z.min()) >= -1 and float(z.max()) <= 1 and float(z.abs().max()) > 0.9
    assert float(BackpropSearcher(BackpropOptions()).initial_z(500, 4, seed=0).abs().max()) > 1.5
    _, problems = structure(make_converter(), {"z_init": "uniform"}, BackpropOptions, "s")
    assert [(p.path, p.message) for p in problems] == [("s.z_init", "renamed: use z_prior")]
