"""Failure analysis (core, no UI): explained failure classes, first divergences, human labels,
clusters and regression sets. The evolve loop (#19) uses `classify`, `analyse_run` and
`Analysis`; class definitions in words are in docs/failure-classes.md."""

from . import rules  # noqa: F401  (registers the built-in classes; classes never imports rules)
from .classes import AGENT, BLAME, INFRA, UNCLASSIFIED, FailureClass, Verdict, describe, register, registered
from .classify import CLASSIFIER_VERSION, Analysis, classify, pair_divergence, summary_counts
from .trace import Call, EpisodeTrace, Gold, Step, load_episodes

__all__ = ["AGENT", "BLAME", "INFRA", "UNCLASSIFIED", "FailureClass", "Verdict", "describe",
           "register", "registered", "CLASSIFIER_VERSION", "Analysis", "classify",
           "pair_divergence", "summary_counts", "Call", "EpisodeTrace", "Gold", "Step",
           "load_episodes"]
