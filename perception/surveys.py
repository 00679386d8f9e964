"""Survey definitions: read and check a file, store it as a survey, write it back out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from sqlmodel import Session, func, select

from perception.models import Item, Response, SegmentAttribute, SegmentValue, Survey, Wave
from perception.scales import SCALES
from perception.types import LANGUAGES, SIDES, ScoringModel

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TOP_LEVEL_KEYS = {"slug", "title", "default_language", "items", "segments"}
ITEM_KEYS = {"key", "dimension", "touchpoint", "scale", "model", "required", "customer", "employee"}
MAX_WORDING = 1000
MAX_ITEMS = 200
MAX_SEGMENT_VALUES = 100


class SurveyFileError(ValueError):
    """A survey definition was refused; ``problems`` lists each fault with where it is."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class _Located(dict):
    """A mapping read from YAML that remembers the line it starts on."""

    line: int = 0


class _LocatingLoader(yaml.SafeLoader):
    pass


def _construct_located(loader: _LocatingLoader, node: yaml.MappingNode) -> _Located:
    mapping = _Located(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_LocatingLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_located)


@dataclass(frozen=True)
class ItemDefinition:
    key: str
    dimension: str
    touchpoint: str | None
    scale: str
    model: str | None
    required: bool
    customer: Mapping[str, str]
    employee: Mapping[str, str]


@dataclass(frozen=True)
class SurveyDefinition:
    slug: str
    title: Mapping[str, str]
    default_language: str
    items: tuple[ItemDefinition, ...]
    # side -> attribute name -> allowed values, in order
    segments: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": dict(self.title),
            "default_language": self.default_language,
            "items": [
                {
                    "key": item.key,
                    "dimension": item.dimension,
                    **({"touchpoint": item.touchpoint} if item.touchpoint else {}),
                    "scale": item.scale,
                    **({"model": item.model} if item.model else {}),
                    **({} if item.required else {"required": False}),
                    "customer": dict(item.customer),
                    "employee": dict(item.employee),
                }
                for item in self.items
            ],
            **(
                {"segments": {side: {name: list(values) for name, values in attributes.items()}
                              for side, attributes in self.segments.items() if attributes}}
                if any(self.segments.values())
                else {}
            ),
        }  # fmt: skip


def load_definition_text(text: str) -> Any:
    """Parse YAML (or JSON, which is YAML) safely, naming the line of a syntax error."""
    try:
        return yaml.load(text, Loader=_LocatingLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SurveyFileError([f"{where}{error.problem or error}"]) from None
    except yaml.YAMLError as error:
        raise SurveyFileError([f"not a YAML or JSON file: {error}"]) from None


def _where(node: Any, label: str) -> str:
    line = getattr(node, "line", 0)
    return f"line {line}, {label}" if line else label


def _wording(value: Any, default_language: str, where: str, what: str, problems: list[str]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        problems.append(f"{where}: {what} must be a mapping of language to text, like {{en: ..., fr: ...}}")
        return {}
    unknown = set(value) - set(LANGUAGES)
    if unknown:
        problems.append(f"{where}: {what} has unknown languages {sorted(map(str, unknown))}; use en and fr")
    wording: dict[str, str] = {}
    for language in LANGUAGES:
        text = value.get(language)
        if text is None:
            continue
        if not isinstance(text, str):
            problems.append(f"{where}: {what}.{language} must be text")
            continue
        text = text.strip()
        if len(text) > MAX_WORDING:
            problems.append(f"{where}: {what}.{language} is longer than {MAX_WORDING} characters")
        wording[language] = text
    if not wording.get(default_language):
        problems.append(f"{where}: {what} needs a wording in the default language ({default_language})")
    return wording


def parse_definition(data: Any, scoring_models: Mapping[str, ScoringModel]) -> SurveyDefinition:
    """Check a survey definition whole; raise SurveyFileError listing every fault found."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise SurveyFileError(["the file must hold a mapping with slug, title, default_language and items"])
    unknown = set(data) - TOP_LEVEL_KEYS
    if unknown:
        problems.append(f"unknown top-level keys {sorted(map(str, unknown))}")
    slug = data.get("slug")
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug):
        problems.append(
            f"slug {slug!r} must be 1 to 64 lowercase letters, digits or dashes, starting with a letter or digit"
        )
    default_language = data.get("default_language", "en")
    if default_language not in LANGUAGES:
        problems.append(f"default_language must be en or fr, not {default_language!r}")
        default_language = "en"
    title = _wording(data.get("title"), default_language, _where(data, "survey"), "title", problems)

    raw_items = data.get("items")
    items: list[ItemDefinition] = []
    if not isinstance(raw_items, list) or not raw_items:
        problems.append("items must be a non-empty list")
        raw_items = []
    elif len(raw_items) > MAX_ITEMS:
        problems.append(f"a survey holds at most {MAX_ITEMS} items, this one has {len(raw_items)}")
    seen_keys: set[str] = set()
    for number, raw in enumerate(raw_items, start=1):
        label = f"item {number}"
        if isinstance(raw, Mapping) and isinstance(raw.get("key"), str):
            label = f"item {number} ({raw['key']})"
        where = _where(raw, label)
        if not isinstance(raw, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        unknown = set(raw) - ITEM_KEYS
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(map(str, unknown))}")
        key = raw.get("key")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            problems.append(f"{where}: key {key!r} must be 1 to 64 lowercase letters, digits, _ or -")
        elif key in seen_keys:
            problems.append(f"{where}: key {key!r} is used by an earlier item; keys must be unique")
        else:
            seen_keys.add(key)
        dimension = raw.get("dimension")
        if not isinstance(dimension, str) or not dimension.strip() or len(dimension) > 64:
            problems.append(f"{where}: dimension must be a name of 1 to 64 characters")
            dimension = ""
        touchpoint = raw.get("touchpoint")
        if touchpoint is not None and (not isinstance(touchpoint, str) or not 0 < len(touchpoint) <= 64):
            problems.append(f"{where}: touchpoint must be a name of 1 to 64 characters")
            touchpoint = None
        scale = raw.get("scale")
        model = raw.get("model")
        if scale not in SCALES:
            problems.append(f"{where}: scale {scale!r} is not one of {', '.join(SCALES)}")
        elif SCALES[scale].is_text:
            if model is not None:
                problems.append(f"{where}: a text item has no scoring model")
        else:
            model = model if model is not None else SCALES[scale].default_model
            if model not in scoring_models:
                problems.append(
                    f"{where}: scoring model {model!r} is not registered (known: {', '.join(sorted(scoring_models))})"
                )
            elif scale not in scoring_models[model].scales:
                problems.append(f"{where}: scoring model {model!r} cannot score a {scale} scale")
        required = raw.get("required", scale != "text")
        if not isinstance(required, bool):
            problems.append(f"{where}: required must be true or false")
            required = True
        customer = _wording(raw.get("customer"), default_language, where, "customer", problems)
        employee = _wording(raw.get("employee"), default_language, where, "employee", problems)
        items.append(
            ItemDefinition(
                key=str(key),
                dimension=str(dimension).strip(),
                touchpoint=touchpoint.strip() if isinstance(touchpoint, str) else None,
                scale=str(scale),
                model=model if isinstance(model, str) else None,
                required=required,
                customer=customer,
                employee=employee,
            )
        )
    segments = _segments(data.get("segments"), _where(data, "segments"), problems)
    if problems:
        raise SurveyFileError(problems)
    return SurveyDefinition(
        slug=str(slug), title=title, default_language=default_language, items=tuple(items), segments=segments
    )


def _segments(raw: Any, where: str, problems: list[str]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Segment attributes per side, each with the list of values respondents choose from."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: segments must map a side (customer, employee) to its attributes")
        return {}
    segments: dict[str, dict[str, tuple[str, ...]]] = {}
    for side, attributes in raw.items():
        if side not in SIDES:
            problems.append(f"{where}: segments are declared per side, customer or employee, not {side!r}")
            continue
        if not isinstance(attributes, Mapping):
            problems.append(f"{_where(attributes, where)}: segments.{side} must map attribute names to value lists")
            continue
        segments[side] = {}
        for name, values in attributes.items():
            label = f"segments.{side}.{name}"
            if not isinstance(name, str) or not KEY_PATTERN.match(name):
                problems.append(f"{where}: {label}: an attribute name is 1 to 64 lowercase letters, digits, _ or -")
                continue
            if not isinstance(values, list) or not values:
                problems.append(f"{where}: {label} must list its allowed values")
                continue
            texts = [str(value).strip() for value in values if isinstance(value, str | int | bool)]
            if len(texts) != len(values) or any(not 0 < len(text) <= 64 for text in texts):
                problems.append(f"{where}: {label}: each value is a text of 1 to 64 characters")
            elif len(set(texts)) != len(texts):
                problems.append(f"{where}: {label} lists a value twice")
            elif len(texts) > MAX_SEGMENT_VALUES:
                problems.append(f"{where}: {label} has more than {MAX_SEGMENT_VALUES} values")
            else:
                segments[side][name] = tuple(texts)
    return segments


def read_definition(text: str, scoring_models: Mapping[str, ScoringModel]) -> SurveyDefinition:
    return parse_definition(load_definition_text(text), scoring_models)


def survey_has_responses(session: Session, survey: Survey) -> bool:
    count = session.exec(
        select(func.count(Response.id)).join(Wave, Wave.id == Response.wave_id).where(Wave.survey_id == survey.id)
    ).one()
    return count > 0


def store_definition(session: Session, definition: SurveyDefinition, replace: bool = False) -> Survey:
    """Create the survey (or replace its items when no wave has answers yet). Not committed."""
    survey = session.exec(select(Survey).where(Survey.slug == definition.slug)).first()
    if survey is not None:
        if not replace:
            raise SurveyFileError([f"a survey with slug {definition.slug!r} exists already"])
        if survey_has_responses(session, survey):
            raise SurveyFileError([f"survey {definition.slug!r} has responses; its items cannot be replaced"])
        for item in session.exec(select(Item).where(Item.survey_id == survey.id)).all():
            session.delete(item)
        for attribute in session.exec(select(SegmentAttribute).where(SegmentAttribute.survey_id == survey.id)).all():
            session.delete(attribute)
        session.flush()
    else:
        survey = Survey(slug=definition.slug, title_en="", title_fr="", created_at=datetime.now(UTC))
    survey.title_en = definition.title.get("en", "")
    survey.title_fr = definition.title.get("fr", "")
    survey.default_language = definition.default_language
    session.add(survey)
    session.flush()
    for position, item in enumerate(definition.items):
        session.add(
            Item(
                survey_id=survey.id,
                key=item.key,
                position=position,
                dimension=item.dimension,
                touchpoint=item.touchpoint,
                scale=item.scale,
                model=item.model,
                required=item.required,
                customer_en=item.customer.get("en", ""),
                customer_fr=item.customer.get("fr", ""),
                employee_en=item.employee.get("en", ""),
                employee_fr=item.employee.get("fr", ""),
            )
        )
    for side, attributes in definition.segments.items():
        for position, (name, values) in enumerate(attributes.items()):
            attribute = SegmentAttribute(survey_id=survey.id, side=side, name=name, position=position)
            session.add(attribute)
            session.flush()
            session.add_all(
                SegmentValue(attribute_id=attribute.id, value=value, position=index)
                for index, value in enumerate(values)
            )
    session.flush()
    return survey


def segments_of(session: Session, survey: Survey) -> dict[str, dict[str, tuple[str, ...]]]:
    """The survey's segment attributes per side, with their values, in declared order."""
    statement = (
        select(SegmentAttribute.side, SegmentAttribute.name, SegmentValue.value)
        .join(SegmentValue, SegmentValue.attribute_id == SegmentAttribute.id)
        .where(SegmentAttribute.survey_id == survey.id)
        .order_by(SegmentAttribute.side, SegmentAttribute.position, SegmentValue.position)
    )
    segments: dict[str, dict[str, list[str]]] = {}
    for side, name, value in session.exec(statement):
        segments.setdefault(side, {}).setdefault(name, []).append(value)
    return {side: {name: tuple(values) for name, values in attributes.items()} for side, attributes in segments.items()}


def items_of(session: Session, survey: Survey) -> list[Item]:
    return list(session.exec(select(Item).where(Item.survey_id == survey.id).order_by(Item.position)).all())


def definition_of(session: Session, survey: Survey) -> SurveyDefinition:
    def wording(item: Item, side: str) -> dict[str, str]:
        return {lang: text for lang in LANGUAGES if (text := getattr(item, f"{side}_{lang}"))}

    return SurveyDefinition(
        slug=survey.slug,
        title={lang: text for lang in LANGUAGES if (text := getattr(survey, f"title_{lang}"))},
        default_language=survey.default_language,
        items=tuple(
            ItemDefinition(
                key=item.key,
                dimension=item.dimension,
                touchpoint=item.touchpoint,
                scale=item.scale,
                model=item.model,
                required=item.required,
                customer=wording(item, "customer"),
                employee=wording(item, "employee"),
            )
            for item in items_of(session, survey)
        ),
        segments=segments_of(session, survey),
    )


def dump_definition(definition: SurveyDefinition) -> str:
    return yaml.safe_dump(definition.to_dict(), allow_unicode=True, sort_keys=False, width=100)
