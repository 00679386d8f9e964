"""Built-in text analyser: themes of French and English verbatims from key phrases.

Each verbatim is cut into words, told French or English by its stop words (or by its
respondent's page language when the words do not tell), reduced to lemmas with simplemma
("frais opaques" and "frais opaque" are one theme) and stripped of stop words. YAKE picks the
key phrases of each language's verbatims taken together; a theme is a key phrase of one or two
lemmas that at least ``min_mentions`` verbatims share. Two key phrases mentioned by exactly the
same verbatims are one theme (the longer name wins). Everything is ordered, so the same
verbatims in the same order give the same themes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import simplemma

from perception import TextAnalyser, Theme, WrittenText, hookimpl

LANGUAGES = ("fr", "en")
WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
# French elided articles and pronouns before an apostrophe: "l'écoute" is "écoute".
ELISIONS = frozenset({"c", "d", "j", "l", "m", "n", "qu", "s", "t", "jusqu", "lorsqu", "puisqu", "quoiqu"})
# YAKE's stop word lists count words that carry a theme in customers' mouths ("trop cher").
NOT_STOP_WORDS = frozenset({"cher", "chère", "chers", "chères", "attendu", "attente"})
# Words that say nothing of a theme in a verbatim, beyond YAKE's lists (compared as lemmas too).
MORE_STOP_WORDS = {
    "fr": frozenset(
        {"être", "avoir", "faire", "dire", "aller", "pouvoir", "vouloir", "devoir", "falloir", "mettre", "très",
         "trop", "plus", "moins", "fois", "chose", "merci", "bonjour", "cordialement", "rien", "toujours", "jamais",
         "vraiment", "assez", "tout", "tous", "toute", "toutes", "mon", "ma", "mes", "notre", "nos", "votre", "vos",
         "leur", "leurs", "quelqu", "quelque", "client", "cliente", "clients", "trouver", "parler", "penser",
         "croire", "sembler", "revenir", "souvent"}
    ),
    "en": frozenset(
        {"be", "have", "do", "get", "make", "would", "could", "should", "will", "can", "may", "might", "must",
         "very", "really", "much", "many", "lot", "thing", "things", "thank", "thanks", "always", "never",
         "still", "even", "also", "time", "customer", "customers", "us", "our", "we", "i", "me", "my", "say",
         "find", "think", "seem", "want"}
    ),
}  # fmt: skip
MAX_PHRASE_WORDS = 2


@dataclass(frozen=True)
class _Words:
    """A verbatim's content words: lemmas, and the words as written (lower case) beside them."""

    lemmas: tuple[str, ...]
    written: tuple[str, ...]


@cache
def stop_words(language: str) -> frozenset[str]:
    import yake  # here, not at the top: it takes a quarter of a second, which every command would pay

    base = yake.KeywordExtractor(lan=language).stopword_set
    return frozenset(word.lower() for word in base) - NOT_STOP_WORDS | MORE_STOP_WORDS[language]


def _tokens(text: str, language: str) -> list[str]:
    tokens = []
    for match in WORD.finditer(text.lower().replace("’", "'")):
        token = match.group()
        head, apostrophe, rest = token.partition("'")
        if apostrophe and language == "fr" and head in ELISIONS:
            token = rest
        elif apostrophe and language == "en" and rest == "s":
            token = head
        tokens.append(token)
    return tokens


def guess_language(text: str, hint: str | None, default: str) -> str:
    """French or English, by which language's stop words the text uses more; ties go to the hint."""
    words = [match.group() for match in WORD.finditer(text.lower().replace("’", "'"))]
    counts = {language: sum(word in stop_words(language) for word in words) for language in LANGUAGES}
    if counts["fr"] != counts["en"]:
        return "fr" if counts["fr"] > counts["en"] else "en"
    return hint if hint in LANGUAGES else default


def content_words(text: str, language: str) -> _Words:
    """The lemmas of the words that carry meaning, in order, with the words as written."""
    stops = stop_words(language)
    lemmas: list[str] = []
    written: list[str] = []
    for token in _tokens(text, language):
        if len(token) < 3 or token in stops:
            continue
        lemma = simplemma.lemmatize(token, lang=language).lower()
        if lemma in stops or len(lemma) < 3:
            continue
        lemmas.append(lemma)
        written.append(token)
    return _Words(tuple(lemmas), tuple(written))


def _phrases(words: _Words) -> dict[tuple[str, ...], str]:
    """Every run of one or two lemmas in a verbatim, with how it was written there."""
    found: dict[tuple[str, ...], str] = {}
    for size in range(1, MAX_PHRASE_WORDS + 1):
        for start in range(len(words.lemmas) - size + 1):
            phrase = words.lemmas[start : start + size]
            if len(set(phrase)) == size:
                found.setdefault(phrase, " ".join(words.written[start : start + size]))
    return found


class KeyPhraseThemes(TextAnalyser):
    name = "key-phrases"
    label = {"en": "Key phrases (YAKE, simplemma)", "fr": "Expressions clés (YAKE, simplemma)"}

    def __init__(
        self, min_mentions: int = 2, key_phrases: int = 60, max_themes: int = 40, read: int = 1500, default: str = "fr"
    ) -> None:
        self.min_mentions = min_mentions
        self.read = read  # YAKE reads at most this many verbatims per language, evenly spread
        self.key_phrases = key_phrases
        self.max_themes = max_themes
        self.default = default

    def themes(self, texts: Sequence[WrittenText]) -> list[Theme]:
        by_language: dict[str, list[int]] = {language: [] for language in LANGUAGES}
        words: list[_Words] = []
        for index, written in enumerate(texts):
            language = guess_language(written.text, written.language, self.default)
            by_language[language].append(index)
            words.append(content_words(written.text, language))
        themes: list[Theme] = []
        for language in LANGUAGES:
            if by_language[language]:
                themes.extend(self._themes_of(language, by_language[language], texts, words))
        return themes

    def _themes_of(
        self, language: str, indices: list[int], texts: Sequence[WrittenText], words: list[_Words]
    ) -> list[Theme]:
        # Which verbatims hold each phrase, and how they wrote it.
        mentions: dict[tuple[str, ...], list[int]] = {}
        spellings: dict[tuple[str, ...], Counter[str]] = {}
        for index in indices:
            for phrase, spelling in _phrases(words[index]).items():
                mentions.setdefault(phrase, []).append(index)
                spellings.setdefault(phrase, Counter())[spelling] += 1
        # YAKE ranks the key phrases of this language's verbatims read as one document; on a large
        # wave it reads an even sample of them (its time grows with the words), the counts cover all.
        import yake

        step = -(-len(indices) // self.read)
        document = "\n".join(texts[index].text.rstrip(" .!?") + "." for index in indices[::step])
        extractor = yake.KeywordExtractor(
            lan=language, n=MAX_PHRASE_WORDS, top=self.key_phrases, stopwords=set(stop_words(language))
        )
        ranked: dict[tuple[str, ...], int] = {}
        for rank, (phrase, _relevance) in enumerate(extractor.extract_keywords(document)):
            lemmas = content_words(phrase, language).lemmas
            if lemmas and len(lemmas) <= MAX_PHRASE_WORDS and len(mentions.get(lemmas, ())) >= self.min_mentions:
                ranked.setdefault(lemmas, rank)
        # One theme per set of verbatims: the longer phrase says more, then the better-ranked one.
        chosen: dict[tuple[int, ...], tuple[str, ...]] = {}
        for phrase in sorted(ranked, key=lambda lemmas: (-len(lemmas), ranked[lemmas], lemmas)):
            chosen.setdefault(tuple(mentions[phrase]), phrase)
        kept = sorted(chosen.items(), key=lambda pair: (-len(pair[0]), ranked[pair[1]], pair[1]))
        return [
            Theme(
                key=f"{language}:{' '.join(phrase)}",
                label=min(spellings[phrase].items(), key=lambda pair: (-pair[1], pair[0]))[0],
                language=language,
                mentions=held,
            )
            for held, phrase in kept[: self.max_themes]
        ]


@hookimpl
def perception_register_text_analysers() -> list[TextAnalyser]:
    return [KeyPhraseThemes()]
