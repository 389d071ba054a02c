"""Moved: the label-encoding evaluator and Hide-and-Seek against a frozen seeker are core science and live in
:mod:`hnsx.training.evaluator`. This module re-exports them for ``hnsx/study_run.py``, whose imports move with the
study subpackage (issue 17); new code imports :mod:`hnsx.training.evaluator`.
"""

from hnsx.training.evaluator import leak_free_config, leak_free_hns, random_masks, train_evaluator, train_hns_frozen

__all__ = ["leak_free_config", "leak_free_hns", "random_masks", "train_evaluator", "train_hns_frozen"]
