"""Search orchestration any stage or evaluator may use: a searcher's search split across torchrun
ranks (:func:`sharded_search`) and saved group by group so a killed search resumes
(:func:`resumable_search`). Searchers themselves are plugins; this only drives them."""

from __future__ import annotations

from ganaug.kit.search.encoders import MissingEncoder, for_model, needs_encoder
from ganaug.kit.search.resumable import resumable_search
from ganaug.kit.search.sharded import can_shard, gather_result, search_block, sharded_search

__all__ = [
    "MissingEncoder",
    "can_shard",
    "for_model",
    "gather_result",
    "needs_encoder",
    "resumable_search",
    "search_block",
    "sharded_search",
]
