"""Registers the built-in evaluators: AnoGAN scoring, the classical baselines (L1-to-mean, kNN, PCA,
one-class SVM), ROC/AUC, sample quality."""

from __future__ import annotations

from ganaug.api.hookspecs import Register, hookimpl
from ganaug_plugins.evaluators.anogan import AnoGANEvaluator, AnoGANOptions
from ganaug_plugins.evaluators.baseline import L1MeanEvaluator, L1MeanOptions
from ganaug_plugins.evaluators.classical import (
    KnnBaseline,
    KnnOptions,
    OcsvmBaseline,
    OcsvmOptions,
    PcaBaseline,
    PcaOptions,
)
from ganaug_plugins.evaluators.quality import QualityEvaluator, QualityOptions
from ganaug_plugins.evaluators.roc import RocEvaluator, RocOptions


@hookimpl
def register_evaluators(register: Register) -> None:
    register(
        "anogan",
        AnoGANEvaluator,
        options=AnoGANOptions,
        description="AnoGAN anomaly score per test image by latent search (plus the no-search control)",
    )
    register(
        "l1-mean",
        L1MeanEvaluator,
        options=L1MeanOptions,
        description="Baseline score: mean |x - mean training image|",
    )
    register(
        "knn",
        KnnBaseline,
        options=KnnOptions,
        description="Baseline score: distance to the k nearest training images (pixels or features)",
    )
    register(
        "pca",
        PcaBaseline,
        options=PcaOptions,
        description="Baseline score: reconstruction error after a PCA of the training images",
    )
    register(
        "ocsvm",
        OcsvmBaseline,
        options=OcsvmOptions,
        description="Baseline score: a one-class SVM (RBF kernel) fitted on the training images",
    )
    register(
        "roc",
        RocEvaluator,
        options=RocOptions,
        description="ROC AUC with bootstrap CI, ROC curves and mean score per class, per model and method",
    )
    register(
        "quality",
        QualityEvaluator,
        options=QualityOptions,
        description="Sample quality: KID, precision/recall/density/coverage on a fitted backbone, diversity",
    )
