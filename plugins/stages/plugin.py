"""Registers the built-in stages: train, encoder, augment, transform and evaluate."""

from __future__ import annotations

from ganaug.api.hookspecs import Register, hookimpl
from ganaug_plugins.stages.augment import AugmentOptions, AugmentStage
from ganaug_plugins.stages.encoder import EncoderStage, EncoderStageOptions
from ganaug_plugins.stages.evaluate import EvaluateOptions, EvaluateStage
from ganaug_plugins.stages.train import TrainOptions, TrainStage
from ganaug_plugins.stages.transform import TransformOptions, TransformStage


@hookimpl
def register_stages(register: Register) -> None:
    register("train", TrainStage, options=TrainOptions, description="Train a GAN on selected images")
    register(
        "encoder",
        EncoderStage,
        options=EncoderStageOptions,
        description="Train an encoder E(x) -> z on a trained, frozen G/D pair (f-AnoGAN's izi_f)",
    )
    register(
        "augment",
        AugmentStage,
        options=AugmentOptions,
        description="Generate new training images from query images by latent search",
    )
    register(
        "transform",
        TransformStage,
        options=TransformOptions,
        description="Classical augmentation: transformed copies of real images (shifts, small rotations)",
    )
    register(
        "evaluate",
        EvaluateStage,
        options=EvaluateOptions,
        description="Score test images with trained models; ROC, AUC, plots, comparison table",
    )
