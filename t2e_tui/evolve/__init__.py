"""The improvement loop (`t2e evolve`): discovery traces → failure classes → proposed patches →
dev runs → a Pareto set → one frozen candidate → heldout (and transfer) → the gate.

No textual here. The proposer sees only what `TraceReader` hands it: failing discovery and
development episodes, compacted; a read of a heldout or transfer trace is refused and recorded,
and every allowed read is an evidence view like a person's, so the gate's leakage guard covers
the proposer by construction. The loop proposes and records; a person promotes (unless
`--auto-promote`, which only follows a promote on clean heldout evidence).
"""

from .backends import make_proposer
from .loop import EvolveConfig, evolve
from .proposer import LeakageRefused, OfflineProposer, Proposal, ProposalError, TraceReader

__all__ = ["EvolveConfig", "evolve", "LeakageRefused", "OfflineProposer", "Proposal",
           "ProposalError", "TraceReader", "make_proposer"]
