"""Conversion levers and diagnostics: the SSIM modes' gradient directions, the IAGAN bottleneck,
search without steps or with a prior pull, copy score, z-diversity and the probe classifier."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganaug.api.interfaces import ImageSet, ImageSpec
from ganaug.numeric.ssim import ssim, to_unit
from ganaug.testing.toys import SIZE, ConditionalToyGenerator, ConvDiscriminator, SubspaceGenerator
from ganaug_plugins.models.iagan.generator import IaganGenerator
from ganaug_plugins.searchers.backprop import BackpropOptions, BackpropSearcher
from ganaug_plugins.stages.conversion import CopyMonitor, copy_scores, fit_probe, summarise, z_diversity
from ganaug_plugins.stages.loss_log import LossLog
from ganaug_plugins.weighters.plugin import SsimWeighter


def _pair(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    real = torch.rand(4, 1, 16, 16, generator=gen) * 2 - 1
    fake = (0.6 * real + 0.4 * (torch.rand(4, 1, 16, 16, generator=gen) * 2 - 1)).requires_grad_(True)
    return real, fake


def _ssim_after_one_step(mode: str) -> tuple[float, float]:
    """Mean SSIM(real, fake) before and after one gradient step on ``fake`` of G's weighted loss."""
    real, fake = _pair()
    weighter = SsimWeighter(mode, alpha=1.0)
    loss = torch.full((4,), 0.5)  # a positive generator loss per sample (least squares)
    before = float(ssim(to_unit(real), to_unit(fake.detach())).mean())
    total = loss * weighter.weights(real, fake)
    extra = weighter.penalty(real, fake)
    (total if extra is None else total + extra).mean().backward()
    assert fake.grad is not None
    with torch.no_grad():
        stepped = fake - 0.02 * fake.grad / fake.grad.abs().max()
    return before, float(ssim(to_unit(real), to_unit(stepped)).mean())


def test_dissimilar_mode_lowers_ssim_in_one_step() -> None:
    before, after = _ssim_after_one_step("dissimilar")
    assert after < before - 1e-4


def test_differentiable_weight_raises_ssim_as_documented() -> None:
    before, after = _ssim_after_one_step("differentiable")
    assert after > before


def test_detached_mode_gives_no_gradient_through_the_weight() -> None:
    real, fake = _pair()
    weights = SsimWeighter("detached").weights(real, fake)
    assert not weights.requires_grad
    assert SsimWeighter("detached").penalty(real, fake) is None
    expected = 1 - (ssim(to_unit(real), to_unit(fake)) + 1) / 2
    assert torch.allclose(weights, expected.detach())


def test_paper_architecture_is_unchanged_without_the_bottleneck() -> None:
    spec = ImageSpec(1, 16)
    torch.manual_seed(0)
    plain = IaganGenerator(spec, latent_dim=8, width=8)
    assert not any(k.startswith("code.") for k in plain.state_dict())
    torch.manual_seed(0)
    squeezed = IaganGenerator(spec, latent_dim=8, width=8, code_dim=4)
    assert squeezed.code.squeeze is not None and squeezed.code.squeeze.out_features == 4
    z, x = torch.randn(3, 8), torch.rand(3, 1, 16, 16) * 2 - 1
    assert squeezed(z, x).shape == (3, 1, 16, 16)


def test_code_noise_and_dropout_act_only_while_training() -> None:
    g = IaganGenerator(ImageSpec(1, 16), latent_dim=8, width=8, code_dim=4, code_dropout=0.5, code_noise=1.0)
    z, x = torch.randn(3, 8), torch.rand(3, 1, 16, 16) * 2 - 1
    g.eval()
    assert torch.equal(g(z, x), g(z, x))
    g.train()
    torch.manual_seed(1)
    first = g(z, x)
    torch.manual_seed(2)
    assert not torch.equal(first, g(z, x))


def test_search_with_no_steps_keeps_the_starting_point() -> None:
    g, d = SubspaceGenerator(), ConvDiscriminator()
    queries = torch.rand(5, 1, SIZE, SIZE) * 2 - 1
    searcher = BackpropSearcher(BackpropOptions(steps=0))
    result = searcher.search(g, d, queries, seed=3)
    assert torch.equal(result.z, searcher.initial_z(5, g.latent_dim, 3))
    with torch.no_grad():
        assert torch.allclose(result.generated, g(result.z))
    assert torch.equal(result.score, result.initial_score)


def test_prior_pull_keeps_z_closer_to_the_origin() -> None:
    g, d = SubspaceGenerator(), ConvDiscriminator()
    queries = torch.rand(6, 1, SIZE, SIZE) * 2 - 1
    free = BackpropSearcher(BackpropOptions(steps=60, lr=0.1)).search(g, d, queries, seed=0)
    pulled = BackpropSearcher(BackpropOptions(steps=60, lr=0.1, prior_weight=5.0)).search(
        g, d, queries, seed=0
    )
    assert pulled.z.norm(dim=1).mean() < free.z.norm(dim=1).mean()


class _Copier(nn.Module):
    latent_dim, conditional = 4, True

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        assert x is not None
        return x * self.scale


def test_a_copier_scores_copy_one_and_no_diversity() -> None:
    x = torch.rand(5, 1, 16, 16) * 2 - 1
    assert torch.allclose(copy_scores(x, x), torch.ones(5))
    div = z_diversity(_Copier(), x, k=3, seed=0)
    assert div.outputs.shape == (3, 5, 1, 16, 16)
    assert torch.allclose(div.ssim, torch.ones(5)) and torch.all(div.l1 == 0)
    assert CopyMonitor(x, seed=0, k=2).measure(_Copier()) == pytest.approx(
        {"copy_ssim": 1.0, "z_diversity_ssim": 1.0}
    )


def test_a_generator_that_uses_z_shows_diversity() -> None:
    x = torch.rand(4, 1, SIZE, SIZE) * 2 - 1
    div = z_diversity(ConditionalToyGenerator(), x, k=4, seed=0)
    assert float(div.l1.mean()) > 0.01 and float(div.ssim.mean()) < 0.99


def _two_classes(n: int, seed: int) -> ImageSet:
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(2 * n, 1, 8, 8, generator=gen) * 0.4 - 0.2
    images[:n, :, :, :4] += 0.7  # class "a": bright left half
    images[n:, :, :, 4:] += 0.7  # class "b": bright right half
    labels = torch.tensor([0] * n + [1] * n)
    return ImageSet(images, labels, tuple(f"i{i}" for i in range(2 * n)), ("a", "b", "c"))


def test_probe_separates_real_classes_and_reads_outputs() -> None:
    probe = fit_probe(_two_classes(20, 0), seed=0)
    assert probe.classes == ("a", "b") and probe.images == 40 and probe.accuracy == 1.0
    held_out = _two_classes(5, 1)
    assert probe.predict(held_out.images) == ["a"] * 5 + ["b"] * 5
    block = summarise(["b"] * 5 + ["a"] * 5, torch.rand(10), {}, probe.predict(held_out.images), "a", probe)
    # the five "b" queries gave outputs the probe calls "a" (converted), the "a" queries gave "b"s
    assert block["per_query_class"]["b"]["conversion_rate"] == 1.0
    assert block["per_query_class"]["a"]["conversion_rate"] == 0.0
    assert block["probe"]["accuracy"] == 1.0


def test_probe_needs_two_classes() -> None:
    one = _two_classes(4, 0).of_classes(["a"])
    with pytest.raises(ValueError, match="two classes"):
        fit_probe(one, seed=0)


def test_loss_log_carries_the_epoch_monitor_and_reads_old_files(tmp_path) -> None:
    log = LossLog()
    stats = {"d_loss": 1.0, "g_loss": 2.0, "weight": 0.5, "d_real": 0.1, "d_fake": -0.1}
    log.add(1, 1, stats)
    log.add(1, 2, stats)
    log.annotate({"copy_ssim": 0.8, "z_diversity_ssim": 0.3})
    assert log.epoch_mean(1)["copy_ssim"] == 0.8 and math.isnan(log.rows[0]["copy_ssim"])
    back = LossLog.read_csv(log.write_csv(tmp_path / "losses.csv"), 2)
    assert back.rows[1]["z_diversity_ssim"] == 0.3 and math.isnan(back.rows[0]["z_diversity_ssim"])
    old = tmp_path / "old.csv"
    old.write_text("epoch,step,d_loss,g_loss,weight,d_real,d_fake\n1,1,1.0,2.0,0.5,0.1,-0.1\n")
    assert math.isnan(LossLog.read_csv(old, 1).rows[0]["copy_ssim"])
    assert log.plot(tmp_path / "losses.png").is_file()
