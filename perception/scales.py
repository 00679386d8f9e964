"""Answer scales: the values an item accepts and the scoring model it gets by default.

Three kinds of item: a **score** (a number on a scale a scoring model knows), a **choice** (one
option from the item's own list, counted but never scored), and **text** (a verbatim).
"""

from __future__ import annotations

from dataclasses import dataclass

SCORE, CHOICE, TEXT = "score", "choice", "text"


@dataclass(frozen=True)
class Scale:
    name: str
    low: int | None
    high: int | None
    default_model: str | None
    # Labels of the two ends, in English and French.
    low_label: tuple[str, str] = ("", "")
    high_label: tuple[str, str] = ("", "")
    kind: str = SCORE
    # The scale's name as leads read it, in English and French.
    title: tuple[str, str] = ("", "")

    def label(self, language: str) -> str:
        name = self.title[1 if language == "fr" else 0]
        if self.kind != SCORE:
            return name
        return f"{name} {self.low}–{self.high}"

    @property
    def is_text(self) -> bool:
        return self.kind == TEXT

    @property
    def is_choice(self) -> bool:
        return self.kind == CHOICE

    @property
    def is_score(self) -> bool:
        return self.kind == SCORE

    @property
    def values(self) -> list[int]:
        if self.low is None or self.high is None:
            return []
        return list(range(self.low, self.high + 1))

    def end_labels(self, language: str) -> tuple[str, str]:
        index = 1 if language == "fr" else 0
        return self.low_label[index], self.high_label[index]


SCALES: dict[str, Scale] = {
    scale.name: scale
    for scale in (
        Scale(
            "nps",
            0,
            10,
            "nps",
            ("Not at all likely", "Pas du tout probable"),
            ("Extremely likely", "Tout à fait probable"),
            title=("NPS", "NPS"),
        ),
        Scale(
            "csat",
            1,
            5,
            "csat",
            ("Very dissatisfied", "Très insatisfait"),
            ("Very satisfied", "Très satisfait"),
            title=("CSAT", "CSAT"),
        ),
        Scale(
            "ces",
            1,
            7,
            "ces",
            ("Strongly disagree", "Pas du tout d'accord"),
            ("Strongly agree", "Tout à fait d'accord"),
            title=("CES", "CES"),
        ),
        Scale(
            "likert5",
            1,
            5,
            "mean",
            ("Strongly disagree", "Pas du tout d'accord"),
            ("Strongly agree", "Tout à fait d'accord"),
            title=("Likert", "Likert"),
        ),
        Scale(
            "binary",
            0,
            1,
            "thumbs_up",
            ("No", "Non"),
            ("Yes", "Oui"),
            title=("Thumbs up or down", "Pouce levé ou baissé"),
        ),
        Scale("choice", None, None, None, kind=CHOICE, title=("Single choice", "Choix unique")),
        Scale("text", None, None, None, kind=TEXT, title=("Free text", "Texte libre")),
    )
}

# Labels of the five CSAT values, shown beside faces so that no one has to read a face.
CSAT_LABELS: dict[int, tuple[str, str]] = {
    1: ("Very dissatisfied", "Très insatisfait"),
    2: ("Dissatisfied", "Insatisfait"),
    3: ("Neither", "Ni l'un ni l'autre"),
    4: ("Satisfied", "Satisfait"),
    5: ("Very satisfied", "Très satisfait"),
}

MAX_TEXT_LENGTH = 5000
MAX_OPTIONS = 30
