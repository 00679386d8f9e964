"""Survey definitions: read and check a file, store it as a survey, write it back out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from sqlalchemy import or_
from sqlmodel import Session, select

from perception.models import Item, Response, ResponseSegment, SegmentAttribute, SegmentValue, Survey, Wave
from perception.scales import MAX_OPTIONS, SCALES
from perception.types import LANGUAGES, SIDES, ScoringModel

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TOP_LEVEL_KEYS = {"slug", "title", "default_language", "items", "segments"}
ITEM_KEYS = {"key", "dimension", "touchpoint", "scale", "model", "required", "customer", "employee", "options", "why"}
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
    # A choice item's options, each worded in both languages; both sides choose from the same list.
    options: tuple[Mapping[str, str], ...] = ()
    why: bool = False


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
                    **({"options": [dict(option) for option in item.options]} if item.options else {}),
                    **({"why": True} if item.why else {}),
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
        if not isinstance(scale, str) or scale not in SCALES:
            problems.append(f"{where}: scale {scale!r} is not one of {', '.join(SCALES)}")
        elif not SCALES[scale].is_score:
            if model is not None:
                kind = "a text item" if scale == "text" else f"a {scale} item is not scored, so it"
                problems.append(f"{where}: {kind} has no scoring model")
                model = None
        else:
            model = model if model is not None else SCALES[scale].default_model
            if not isinstance(model, str) or model not in scoring_models:
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
        options = _options(raw.get("options"), scale, default_language, where, problems)
        why = raw.get("why", False)
        if not isinstance(why, bool):
            problems.append(f"{where}: why must be true or false")
            why = False
        elif why and not (scale in SCALES and SCALES[scale].is_score):
            problems.append(f"{where}: only a score item can ask why; a {scale} item cannot")
            why = False
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
                options=options,
                why=why,
            )
        )
    segments = _segments(data.get("segments"), _where(data, "segments"), problems)
    if problems:
        raise SurveyFileError(problems)
    return SurveyDefinition(
        slug=str(slug), title=title, default_language=default_language, items=tuple(items), segments=segments
    )


def _options(
    raw: Any, scale: Any, default_language: str, where: str, problems: list[str]
) -> tuple[dict[str, str], ...]:
    """A choice item's options: 2 to MAX_OPTIONS, each worded in the default language, none twice."""
    if scale != "choice":
        if raw is not None:
            problems.append(f"{where}: only a choice item has options; this one is {scale}")
        return ()
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_OPTIONS:
        problems.append(f"{where}: a choice item lists 2 to {MAX_OPTIONS} options, like [{{en: Yes, fr: Oui}}, ...]")
        return ()
    options = tuple(
        _wording(option, default_language, where, f"option {number}", problems)
        for number, option in enumerate(raw, start=1)
    )
    for language in LANGUAGES:
        texts = [option[language].casefold() for option in options if option.get(language)]
        if len(set(texts)) != len(texts):
            problems.append(f"{where}: two options have the same wording in {language}")
    for number, option in enumerate(options, start=1):
        if any(len(text) > 200 for text in option.values()):
            problems.append(f"{where}: option {number} is longer than 200 characters")
    return options


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


def answered_versions(session: Session, survey: Survey) -> set[int]:
    """The versions some wave has collected responses under: their items are frozen."""
    statement = (
        select(Wave.version)
        .where(Wave.survey_id == survey.id)
        .where(Wave.id.in_(select(Response.wave_id)))  # type: ignore[union-attr]
        .distinct()
    )
    return set(session.exec(statement).all())


def _new_item(survey: Survey, item: ItemDefinition, position: int, version: int) -> Item:
    return Item(
        survey_id=survey.id,
        key=item.key,
        first_version=version,
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
        options=[dict(option) for option in item.options] or None,
        why=item.why,
    )


def _meaning(item: Item | ItemDefinition) -> tuple[Any, ...]:
    """What an answer means: the scale, how it is scored, and the question each side was asked."""
    if isinstance(item, Item):
        return (
            item.scale, item.model,
            item.customer_en, item.customer_fr, item.employee_en, item.employee_fr,
            tuple(tuple(sorted(option.items())) for option in item.options or ()),
        )  # fmt: skip
    return (
        item.scale, item.model,
        item.customer.get("en", ""), item.customer.get("fr", ""),
        item.employee.get("en", ""), item.employee.get("fr", ""),
        tuple(tuple(sorted(option.items())) for option in item.options),
    )  # fmt: skip


@dataclass(frozen=True)
class Revision:
    """What storing a definition did: the version later waves get, and the items it changed."""

    version: int
    new_version: bool
    changed: tuple[str, ...] = ()


def store_definition(session: Session, definition: SurveyDefinition, replace: bool = False) -> Survey:
    """Create the survey, or (with ``replace``) revise it as :func:`revise` does. Not committed."""
    survey = session.exec(select(Survey).where(Survey.slug == definition.slug)).first()
    if survey is not None:
        if not replace:
            raise SurveyFileError([f"a survey with slug {definition.slug!r} exists already"])
        revise(session, survey, definition)
        return survey
    survey = Survey(
        slug=definition.slug,
        title_en=definition.title.get("en", ""),
        title_fr=definition.title.get("fr", ""),
        default_language=definition.default_language,
        created_at=datetime.now(UTC),
        version=1,
    )
    session.add(survey)
    session.flush()
    session.add_all(_new_item(survey, item, position, 1) for position, item in enumerate(definition.items))
    _store_segments(session, survey, definition.segments)
    session.flush()
    return survey


def revise(session: Session, survey: Survey, definition: SurveyDefinition) -> Revision:
    """Make the survey's current version say what ``definition`` says, keeping answered items' meaning.

    An item that has answers (some wave of a version it belongs to has responses) is never
    changed in meaning in place: when its scale, scoring model or a wording changes, it is retired
    and a new item with the same key takes its place. Adding or removing items, or changing an
    answered one, while the current version itself has responses starts a new version: waves
    already bound to the old one keep asking it, later waves ask the new one. Order, dimension,
    touchpoint and the required flag change in place: they do not change what an answer means.
    Not committed.
    """
    frozen = answered_versions(session, survey)

    def locked(item: Item) -> bool:
        last = item.last_version if item.last_version is not None else survey.version
        return any(item.first_version <= version <= last for version in frozen)

    current = {item.key: item for item in items_of(session, survey)}
    wanted = {item.key: item for item in definition.items}
    changed = sorted(key for key in set(current) & set(wanted) if _meaning(current[key]) != _meaning(wanted[key]))
    structural = bool(changed) or set(current) != set(wanted)
    new_version = structural and survey.version in frozen
    cut = survey.version + 1 if new_version else survey.version

    for key, item in current.items():
        if key in wanted and key not in changed:
            continue
        if locked(item):
            item.last_version = cut - 1
            session.add(item)
        else:
            session.delete(item)
    session.flush()
    for position, wanted_item in enumerate(definition.items):
        item = current.get(wanted_item.key)
        if item is None or wanted_item.key in changed:
            session.add(_new_item(survey, wanted_item, position, cut))
            continue
        item.position = position
        item.dimension = wanted_item.dimension
        item.touchpoint = wanted_item.touchpoint
        item.required = wanted_item.required
        item.why = wanted_item.why
        session.add(item)
    survey.version = cut
    survey.title_en = definition.title.get("en", "")
    survey.title_fr = definition.title.get("fr", "")
    survey.default_language = definition.default_language
    session.add(survey)
    _sync_segments(session, survey, definition.segments)
    session.flush()
    return Revision(version=cut, new_version=new_version, changed=tuple(changed))


def _store_segments(session: Session, survey: Survey, segments: Mapping[str, Mapping[str, tuple[str, ...]]]) -> None:
    for side, attributes in segments.items():
        for position, (name, values) in enumerate(attributes.items()):
            attribute = SegmentAttribute(survey_id=survey.id, side=side, name=name, position=position)
            session.add(attribute)
            session.flush()
            session.add_all(
                SegmentValue(attribute_id=attribute.id, value=value, position=index)
                for index, value in enumerate(values)
            )


def _sync_segments(session: Session, survey: Survey, segments: Mapping[str, Mapping[str, tuple[str, ...]]]) -> None:
    """Add and reorder segment values; remove only those no response carries (refused otherwise)."""
    problems = []
    existing = session.exec(select(SegmentAttribute).where(SegmentAttribute.survey_id == survey.id)).all()
    used = set(
        session.exec(
            select(ResponseSegment.value_id)
            .where(ResponseSegment.attribute_id.in_([attribute.id for attribute in existing]))  # type: ignore[attr-defined]
            .distinct()
        ).all()
    )
    by_name = {(attribute.side, attribute.name): attribute for attribute in existing}
    for attribute in existing:
        wanted = segments.get(attribute.side, {}).get(attribute.name)
        values = session.exec(select(SegmentValue).where(SegmentValue.attribute_id == attribute.id)).all()
        for value in values:
            if wanted is not None and value.value in wanted:
                continue
            if value.id in used:
                problems.append(
                    f"segments.{attribute.side}.{attribute.name}: value {value.value!r} is carried by responses; "
                    "it cannot be removed"
                )
            else:
                session.delete(value)
        if wanted is None and not problems:
            session.delete(attribute)
    if problems:
        raise SurveyFileError(problems)
    session.flush()
    for side, attributes in segments.items():
        for position, (name, values) in enumerate(attributes.items()):
            attribute = by_name.get((side, name))
            if attribute is None:
                attribute = SegmentAttribute(survey_id=survey.id, side=side, name=name, position=position)
            attribute.position = position
            session.add(attribute)
            session.flush()
            known = {
                value.value: value
                for value in session.exec(select(SegmentValue).where(SegmentValue.attribute_id == attribute.id)).all()
            }
            for index, text in enumerate(values):
                value = known.get(text) or SegmentValue(attribute_id=attribute.id, value=text, position=index)
                value.position = index
                session.add(value)


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


def items_of(session: Session, survey: Survey, wave: Wave | None = None) -> list[Item]:
    """The items a wave asks (those of the version it is bound to, and of its touchpoint when it is
    hot), or the survey's current ones."""
    version = wave.version if wave is not None else survey.version
    statement = (
        select(Item)
        .where(Item.survey_id == survey.id, Item.first_version <= version)
        .where(or_(Item.last_version.is_(None), Item.last_version >= version))  # type: ignore[union-attr]
        .order_by(Item.position, Item.id)  # type: ignore[arg-type]
    )
    if wave is not None and wave.touchpoint:  # a hot wave: its touchpoint's items and the general ones
        statement = statement.where(or_(Item.touchpoint == wave.touchpoint, Item.touchpoint.is_(None)))  # type: ignore[union-attr]
    return list(session.exec(statement).all())


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
                options=tuple(dict(option) for option in item.options or ()),
                why=item.why,
            )
            for item in items_of(session, survey)
        ),
        segments=segments_of(session, survey),
    )


def dump_definition(definition: SurveyDefinition) -> str:
    return yaml.safe_dump(definition.to_dict(), allow_unicode=True, sort_keys=False, width=100)


def one_click_item(items: list[Item]) -> Item | None:
    """The item a one-click score from an email or SMS answers: the first score item."""
    return next((item for item in items if SCALES[item.scale].is_score), None)
