"""Time per image of the three AnoGAN scoring methods on the quickstart's networks (CPU or GPU):
the search from a random z (100 steps), the encoder alone (z = E(x)), the encoder plus 20 steps.

The networks are untrained (DCGAN G/D/E at width 32, latent 100, BatchNorm in eval mode after one
warm-up batch): the cost of a search does not depend on the weights, only on the shapes. Each
method runs once on a few images first (warm-up), then is timed on all of them.

    .venv/bin/python scripts/encoder_timing.py --images 64 --size 32 [--device cuda] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from ganaug.api.interfaces import ImageSpec
from ganaug.testing import tiny_images
from ganaug_plugins.models.dcgan.encoder import DcganEncoder
from ganaug_plugins.models.dcgan.networks import DcganDiscriminator, DcganGenerator
from ganaug_plugins.searchers.backprop import BackpropOptions, BackpropSearcher
from ganaug_plugins.searchers.encoder import EncoderSearcher, EncoderSearchOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=100, help="steps of the search from a random z")
    parser.add_argument("--warm-steps", type=int, default=20, help="steps after the encoder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    image = ImageSpec(1, args.size)
    torch.manual_seed(0)
    g, d = DcganGenerator(image, 100, 32), DcganDiscriminator(image, 32)
    e = DcganEncoder(image, 100, 32)
    x = tiny_images(args.images, ("a", "b"), args.size, 1, 0).images
    with torch.no_grad():  # BatchNorm running statistics from one batch, then eval mode
        g(torch.randn(32, 100))
        d(x[:32])
        e(x[:32])
    g, d, e = g.eval().to(device), d.eval().to(device), e.eval().to(device)

    def backprop(steps: int, **kw: object) -> BackpropSearcher:
        return BackpropSearcher(BackpropOptions(steps=steps, feature_weight=0.2, **kw))  # type: ignore[arg-type]

    methods = {
        f"search {args.steps} steps": backprop(args.steps, channels_last=True),
        "encoder": EncoderSearcher(
            EncoderSearchOptions(), backprop(0, chunk_size=512, channels_last=True)
        ).with_encoder(e),
        f"encoder + {args.warm_steps} steps": EncoderSearcher(
            EncoderSearchOptions(), backprop(args.warm_steps, channels_last=True)
        ).with_encoder(e),
    }
    print(
        f"{args.images} images {args.size}x{args.size}, device {device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU thread(s)"
    )
    times: dict[str, float] = {}
    for name, searcher in methods.items():
        searcher.search(g, d, x[:4].to(device), seed=0)  # warm-up
        began = time.perf_counter()
        result = searcher.search(g, d, x.to(device), seed=0)
        times[name] = (time.perf_counter() - began) / args.images
        assert result.score.shape == (args.images,)
    reference = times[f"search {args.steps} steps"]
    print("| method | seconds per image | speed-up |\n|---|---|---|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.3g} | {reference / seconds:.0f}x |")


if __name__ == "__main__":
    main()
