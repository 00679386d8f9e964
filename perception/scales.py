"""Answer scales: the values an item accepts and the scoring model it gets by default."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    low: int | None
    high: int | None
    default_model: str | None
    # Labels of the two ends, in English and French.
    low_label: tuple[str, str] = ("", "")
    high_label: tuple[str, str] = ("", "")

    def label(self, language: str) -> str:
        if self.low is None:
            return "Texte libre" if language == "fr" else "Free text"
        return f"{self.name.upper() if self.name != 'likert5' else 'Likert'} {self.low}–{self.high}"

    @property
    def is_text(self) -> bool:
        return self.low is None

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
        ),
        Scale(
            "csat",
            1,
            5,
            "csat",
            ("Very dissatisfied", "Très insatisfait"),
            ("Very satisfied", "Très satisfait"),
        ),
        Scale(
            "ces",
            1,
            7,
            "ces",
            ("Strongly disagree", "Pas du tout d'accord"),
            ("Strongly agree", "Tout à fait d'accord"),
        ),
        Scale(
            "likert5",
            1,
            5,
            "mean",
            ("Strongly disagree", "Pas du tout d'accord"),
            ("Strongly agree", "Tout à fait d'accord"),
        ),
        Scale("text", None, None, None),
    )
}

MAX_TEXT_LENGTH = 5000
