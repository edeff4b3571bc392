"""Search orchestration any stage or evaluator may use: a searcher's search split across torchrun
ranks (:func:`sharded_search`) and saved group by group so a killed search resumes
(:func:`resumable_search`), each result checked as it arrives (:func:`checked_result`). Searchers
themselves are plugins; this only drives them."""

from __future__ import annotations

from ganaug.kit.search.checked import SearcherId, checked_result, result_problems, searcher_id
from ganaug.kit.search.encoders import MissingEncoder, for_model, needs_encoder
from ganaug.kit.search.resumable import resumable_search
from ganaug.kit.search.sharded import can_shard, gather_result, search_block, sharded_search

__all__ = [
    "MissingEncoder",
    "SearcherId",
    "can_shard",
    "checked_result",
    "for_model",
    "gather_result",
    "needs_encoder",
    "result_problems",
    "resumable_search",
    "search_block",
    "searcher_id",
    "sharded_search",
]
