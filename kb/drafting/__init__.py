"""Grounded reply drafting: offline assembler, LLM drafter, citation and grounding checks.

Import what you need from the submodules, e.g. ``from kb.drafting.service import draft_reply``;
nothing heavy is loaded by importing the package.
"""

from kb.drafting.models import (Citation, Draft, Drafter, DraftOptions, DraftRisk, GroundingReport,
                                GroundingSentence, KnowledgeGapLog)
from kb.drafting.prompt import PROMPT_VERSION

__all__ = ["Citation", "Draft", "Drafter", "DraftOptions", "DraftRisk", "GroundingReport", "GroundingSentence",
           "KnowledgeGapLog", "PROMPT_VERSION"]
