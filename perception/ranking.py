"""Pairwise ranking of ideas: a Bradley-Terry model fitted to "which of these two?" answers.

Each idea i has a strength s_i; the model says i beats j with probability s_i / (s_i + s_j).
The strengths are the maximum-likelihood fit (choix's iterative Luce spectral ranking), and an
idea's **score** is what people can read: its estimated chance of beating an idea drawn at random
from the others, the mean of s_i / (s_i + s_j) over every other j (as All Our Ideas reports it).

Ideas join mid-way: an idea with few comparisons has a score near 50%, pulled there by a small
regularisation (``alpha``) that also keeps the fit finite for an idea that has only won or only
lost. Pairs are drawn so that ideas with few comparisons come up more often (catch-up sampling),
so a late idea soon has as much evidence as the early ones.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import choix
import numpy as np

# Regularisation of the live ranking: enough to keep an unbeaten newcomer below certainty, small
# enough that a few dozen answers outweigh it.
DEFAULT_ALPHA = 0.5


@dataclass(frozen=True)
class Ranked:
    idea_id: int
    score: float  # estimated chance of beating a randomly chosen other idea, 0 to 1
    comparisons: int
    wins: int


def strengths(count: int, outcomes: Sequence[tuple[int, int]], alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    """Bradley-Terry strengths of ``count`` ideas from (winner, loser) index pairs, summing to 1.

    With ``alpha=0`` it is the plain maximum-likelihood estimate, which exists only when every
    idea has both won and lost within a connected set of comparisons.
    """
    if count == 0:
        return np.zeros(0)
    if count == 1 or not outcomes:
        return np.full(count, 1.0 / count)
    log_strengths = choix.ilsr_pairwise(count, list(outcomes), alpha=alpha)
    weights = np.exp(log_strengths - log_strengths.max())
    return weights / weights.sum()


def chance_of_beating_another(weights: np.ndarray) -> np.ndarray:
    """For each idea, the mean over every other idea j of s_i / (s_i + s_j)."""
    count = len(weights)
    if count < 2:
        return np.full(count, 0.5)
    pairwise = weights[:, None] / (weights[:, None] + weights[None, :])
    np.fill_diagonal(pairwise, 0.0)
    return pairwise.sum(axis=1) / (count - 1)


def rank(
    idea_ids: Sequence[int], outcomes: Iterable[tuple[int, int, int]], alpha: float = DEFAULT_ALPHA
) -> list[Ranked]:
    """Rank ``idea_ids`` from (winner id, loser id, times) counts, best first.

    Outcomes naming an idea outside ``idea_ids`` (merged, hidden, closed since) are left out, so
    the ranking is always among the ideas still in play.
    """
    index = {idea_id: position for position, idea_id in enumerate(idea_ids)}
    pairs: list[tuple[int, int]] = []
    wins = [0] * len(idea_ids)
    comparisons = [0] * len(idea_ids)
    for winner, loser, times in outcomes:
        if winner in index and loser in index:
            pairs.extend([(index[winner], index[loser])] * times)
            wins[index[winner]] += times
            comparisons[index[winner]] += times
            comparisons[index[loser]] += times
    scores = chance_of_beating_another(strengths(len(idea_ids), pairs, alpha))
    ranked = [
        Ranked(idea_id=idea_id, score=float(scores[i]), comparisons=comparisons[i], wins=wins[i])
        for i, idea_id in enumerate(idea_ids)
    ]
    return sorted(ranked, key=lambda entry: (-entry.score, -entry.comparisons, entry.idea_id))


def choose_pair(comparisons: dict[int, int], rng: random.Random) -> tuple[int, int] | None:
    """Two different ideas to compare, each drawn with weight 1 / (1 + its comparisons so far).

    ``comparisons`` maps every idea in play to how often it has been compared; None when fewer
    than two ideas are in play.
    """
    ideas = sorted(comparisons)
    if len(ideas) < 2:
        return None
    weights = [1.0 / (1 + comparisons[idea]) for idea in ideas]
    first = rng.choices(ideas, weights=weights)[0]
    rest = [idea for idea in ideas if idea != first]
    second = rng.choices(rest, weights=[1.0 / (1 + comparisons[idea]) for idea in rest])[0]
    return (first, second) if rng.random() < 0.5 else (second, first)
