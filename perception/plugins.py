"""The plugin manager and the registries built from it, one set per application."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pluggy

from perception import hookspecs
from perception.types import Channel, ScoringModel, SurveyTemplate, TextAnalyser

ENTRY_POINT_GROUP = "perception"

# Parts of the core that plug in through the same hooks as any plugin.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "perception.web",
    "perception.cli",
    "perception.alerts",
    "perception.gap_watch",
    "perception.outreach",
    "perception.notifications",
)


class PluginError(RuntimeError):
    """A plugin gave something the application cannot use."""


T = TypeVar("T")


def make_plugin_manager(extra_plugins: Iterable[object] = (), module_names: Iterable[str] = ()) -> pluggy.PluginManager:
    """A fresh manager: core modules, installed plugins (entry points), named modules, then extras."""
    pm = pluggy.PluginManager("perception")
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for module_name in module_names:
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise PluginError(f"PERCEPTION_PLUGINS names {module_name!r}, which cannot be imported: {error}") from None
        pm.register(module, name=module_name)
    for plugin in extra_plugins:
        pm.register(plugin)
    pm.check_pending()
    return pm


def _merge_by_name(kind: str, results: Iterable[Iterable[T]], base: type) -> dict[str, T]:
    merged: dict[str, T] = {}
    for batch in results:
        for entry in batch or ():
            if not isinstance(entry, base):
                raise PluginError(f"a plugin returned {entry!r} as a {kind}; expected a {base.__name__}")
            name = getattr(entry, "name", None)
            if not name or not isinstance(name, str):
                raise PluginError(f"a plugin returned a {kind} without a name: {entry!r}")
            if name in merged:
                raise PluginError(f"two plugins register a {kind} named {name!r}")
            merged[name] = entry
    return merged


@dataclass
class Registries:
    """What the plugins of one application provide."""

    scoring_models: dict[str, ScoringModel] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    survey_templates: dict[str, SurveyTemplate] = field(default_factory=dict)
    text_analysers: dict[str, TextAnalyser] = field(default_factory=dict)

    @classmethod
    def collect(cls, pm: pluggy.PluginManager) -> Registries:
        hook = pm.hook
        return cls(
            scoring_models=_merge_by_name("scoring model", hook.perception_register_scoring_models(), ScoringModel),
            channels=_merge_by_name("channel", hook.perception_register_channels(), Channel),
            survey_templates=_merge_by_name("survey template", hook.perception_survey_templates(), SurveyTemplate),
            text_analysers=_merge_by_name("text analyser", hook.perception_register_text_analysers(), TextAnalyser),
        )


def _distribution_of(pm: pluggy.PluginManager, plugin: object) -> str | None:
    for plugin_obj, dist in pm.list_plugin_distinfo():
        if plugin_obj is plugin:
            return f"{dist.project_name} {dist.version}"
    return None


def describe_plugins(pm: pluggy.PluginManager, registries: Registries) -> list[Mapping[str, Any]]:
    """Each registered plugin, where it comes from, and what it provides."""
    described = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda pair: pair[0]):
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        provides: dict[str, list[str]] = {}
        for kind, registry, hook_name in (
            ("scoring_models", registries.scoring_models, "perception_register_scoring_models"),
            ("channels", registries.channels, "perception_register_channels"),
            ("survey_templates", registries.survey_templates, "perception_survey_templates"),
            ("text_analysers", registries.text_analysers, "perception_register_text_analysers"),
        ):
            if hook_name not in hooks:
                continue
            implementation = getattr(plugin, hook_name)
            provides[kind] = sorted(entry.name for entry in implementation() or () if entry.name in registry)
        described.append(
            {
                "name": name,
                "module": getattr(plugin, "__name__", type(plugin).__name__),
                "distribution": _distribution_of(pm, plugin),
                "builtin": name in DEFAULT_PLUGINS or getattr(plugin, "__name__", "").startswith("perception_plugins."),
                "hooks": hooks,
                **provides,
            }
        )
    return described
