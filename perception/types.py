"""The public types a plugin works with.

Plugins import these from ``perception`` (or from this module) and nothing else of the
core, so that the core can change its insides without breaking them.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from perception.statistics import GapTest

SIDES: tuple[str, str] = ("customer", "employee")
LANGUAGES: tuple[str, str] = ("en", "fr")

Histogram = Mapping[int, int]
"""Count of answers per answer value, for one item on one side: ``{9: 41, 10: 12, ...}``."""


@dataclass(frozen=True)
class Score:
    """A score with its uncertainty, as a scoring model computes it from a histogram."""

    n: int
    value: float | None
    ci95: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("a score cannot count fewer than zero answers")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError("a score must be a finite number")


class ScoringModel(ABC):
    """Turns the answers of one item on one side into a score with an uncertainty.

    A plugin subclasses it, sets the class attributes, implements :meth:`score`, and returns
    an instance from ``perception_register_scoring_models``. The gap between the two sides is
    tested by :meth:`compare`; by default Welch's t-test on the answers as :meth:`recode` counts
    them, which suits any score that is a mean.
    """

    name: ClassVar[str]
    label: ClassVar[Mapping[str, str]]
    unit: ClassVar[str] = ""
    scales: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def score(self, histogram: Histogram) -> Score:
        """Score the answers; ``n`` counts them, ``value`` is None when there are none."""

    def score_range(self, low: int, high: int) -> tuple[float, float]:
        """The lowest and highest score on a scale of answers from ``low`` to ``high``.

        Dimensions put items of different models side by side by rescaling each score to 0-100
        with this range.
        """
        return float(low), float(high)

    def recode(self, value: float) -> float:
        """What one answer counts as in the score (NPS: -1, 0 or +1); effect sizes use it too."""
        return float(value)

    def compare(self, employee: Histogram, customer: Histogram) -> GapTest:
        """Test the gap (employee score minus customer score), in the score's unit."""
        from perception.statistics import recode, welch

        return welch(recode(employee, self.recode), recode(customer, self.recode))

    def describe(self, language: str = "en") -> str:
        return self.label.get(language) or self.label.get("en") or self.name


@dataclass(frozen=True)
class Delivery:
    """One invitation handed to a channel: where the respondent answers, and whom to reach.

    ``unsubscribe_url`` is set for a contact's invitation: a channel that reaches a person must
    carry it. ``reminder`` says the contact was invited before and has not answered yet.
    """

    url: str
    side: str
    language: str
    survey_title: str
    address: str | None = None
    unsubscribe_url: str | None = None
    expires_at: datetime | None = None
    reminder: bool = False
    # The first score item, which a one-click link (``?score=N``) answers: its scale and its
    # wording for this respondent. None when the survey has no score item.
    one_click_scale: str | None = None
    one_click_question: str | None = None


class DeliveryError(RuntimeError):
    """A channel could not deliver. ``permanent``: trying again will not help (a refused address);
    otherwise the sending is tried again later, with a growing delay."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(ABC):
    """Delivers an invitation to a respondent (web link, QR code, email, SMS, kiosk)."""

    name: ClassVar[str]
    label: ClassVar[Mapping[str, str]]
    # What address the channel needs from a contact ("email", "phone"), or None when the
    # channel hands the link to the lead, who distributes it.
    address_kind: ClassVar[str | None] = None

    @abstractmethod
    def deliver(self, delivery: Delivery) -> str:
        """Deliver, and return what a lead should see of it (the link, a message id...).

        Raise DeliveryError when it cannot. Called inside the application's context.
        """

    @contextmanager
    def batch(self) -> Iterator[Callable[[Delivery], str]]:
        """Deliver many: the batch's deliveries go through the function this yields.

        A channel with a costly connection (SMTP) overrides it to open the connection once per
        batch; by default each delivery is :meth:`deliver`.
        """
        yield self.deliver


@dataclass(frozen=True)
class SurveyTemplate:
    """A survey definition offered to leads as a starting point."""

    name: str
    label: Mapping[str, str]
    definition: Mapping[str, Any]


@dataclass(frozen=True)
class ResponseSubmitted:
    """What a plugin learns of a submitted response.

    It names no person: an employee response carries no account, invitation or time finer
    than the day, and neither does this event.
    """

    survey_slug: str
    wave_name: str
    side: str
    submitted_on: date
    answers: Mapping[str, Any] = field(default_factory=dict)
    # The stored customer response, so that a plugin can open an alert on it; always None for
    # an employee response, which nothing may trace back.
    response_id: int | None = None


@dataclass(frozen=True)
class IdeaStateChanged:
    """A lead decided on an idea: a new state, with the official answer.

    It names no author and no supporter: an anonymous idea has none to name, and the others'
    followers are the app's to tell.
    """

    idea_id: int
    title: str
    from_state: str
    to_state: str
    answer: str
    decided_on: date
    merged_into: int | None = None
    decision_id: int | None = None


@dataclass(frozen=True)
class WaveClosed:
    """A wave was closed: its links no longer accept answers."""

    survey_slug: str
    wave_name: str
    kind: str


@dataclass(frozen=True)
class WaveOpened:
    """A wave was opened for answers."""

    survey_slug: str
    wave_name: str
    kind: str


@dataclass(frozen=True)
class AlertOpened:
    """An alert was opened: an unhappy customer's answer (``kind="answer"``) or a widening gap
    (``kind="gap"``). It carries no contact details; those stay in the application."""

    alert_id: int
    kind: str
    survey_slug: str
    wave_name: str
    item_key: str | None
    value: int | None
    touchpoint: str | None
    dimension: str | None
    reason: str
    opened_at: datetime
    due_at: datetime
    owner_email: str | None = None


@dataclass(frozen=True)
class StoryPublished:
    """A lead published a best-failure story; it names no customer beyond what the story says."""

    story_id: int
    title: str
    touchpoint: str | None
    dimension: str | None
    alert_id: int | None
    published_at: datetime


@dataclass(frozen=True)
class WrittenText:
    """One verbatim as a text analyser sees it: the words and, when known, their language."""

    text: str
    language: str | None = None  # "en", "fr", or None when the analyser must tell


@dataclass(frozen=True)
class Theme:
    """What a group of verbatims talks about.

    ``key`` identifies the theme across the texts of one analysis (the same key on both sides is
    the same theme); ``label`` is how people wrote it; ``mentions`` are the positions, in the
    sequence the analyser was given, of the texts that mention it.
    """

    key: str
    label: str
    language: str
    mentions: tuple[int, ...]


class TextAnalyser(ABC):
    """Finds the themes of a set of verbatims (customers' and employees' of one wave, together).

    A plugin subclasses it and returns an instance from ``perception_register_text_analysers``.
    It sees only the texts: the core links each one to the score it explains, counts the themes
    per side and keeps employees' verbatims away from it below the verbatim threshold. The same
    texts in the same order must give the same themes.
    """

    name: ClassVar[str]
    label: ClassVar[Mapping[str, str]]

    @abstractmethod
    def themes(self, texts: Sequence[WrittenText]) -> list[Theme]:
        """The themes of ``texts``, each with the positions of the texts that mention it."""

    def describe(self, language: str = "en") -> str:
        return self.label.get(language) or self.label.get("en") or self.name
