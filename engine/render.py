"""Jinja environments (one per language) and rendering of shells and activity views."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pluggy
from babel.support import NullTranslations
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    meta,
)

from .activity import Activity
from .i18n import load_translations, translate
from .kits import LANGUAGES

ENGINE_DIR = Path(__file__).parent
DISPLAYS_DIR = ENGINE_DIR.parent / "displays"


def activity_dir(activity: type[Activity]) -> Path:
    return Path(inspect.getfile(activity)).parent


class Renderer:
    """Templates are namespaced: an activity's `screen.html` is `<slug>/screen.html`, served
    only from its own package, so no plugin can shadow another's templates."""

    def __init__(self, activities: dict[str, type[Activity]], pm: pluggy.PluginManager) -> None:
        prefixes = {
            slug: FileSystemLoader(activity_dir(cls) / "templates")
            for slug, cls in activities.items()
        }
        shells = FileSystemLoader(DISPLAYS_DIR / "templates")
        loader = ChoiceLoader([PrefixLoader(prefixes), shells])
        locale_dirs = [ENGINE_DIR / "locales", DISPLAYS_DIR / "locales"]
        locale_dirs += [activity_dir(cls) / "locales" for cls in activities.values()]
        for extra in pm.hook.register_locale_dirs():
            locale_dirs += [Path(d) for d in extra or ()]
        self.stylesheets = [
            f"/-/static/{slug}/{slug}.css"
            for slug, cls in activities.items()
            if (activity_dir(cls) / "static" / f"{slug}.css").is_file()
        ]
        self._names_used: dict[str, frozenset[str] | None] = {}
        self.translations: dict[str, NullTranslations] = {}
        self.envs: dict[str, Environment] = {}
        for lang in LANGUAGES:
            self.translations[lang] = load_translations(lang, locale_dirs)
            env = Environment(
                loader=loader,
                autoescape=True,
                undefined=StrictUndefined,
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
                # Templates ship inside packages: no stat() of every file at every render.
                auto_reload=False,
            )
            env.install_gettext_translations(self.translations[lang], newstyle=True)  # type: ignore[attr-defined]
            env.globals["lang"] = lang
            env.globals["activity_stylesheets"] = self.stylesheets
            env.globals["base"] = ""  # the public URL's path, before every link (set_base)
            pm.hook.prepare_jinja2_environment(env=env)
            self.envs[lang] = env

    def set_base(self, base: str) -> None:
        """Links in pages start with BASE ("/amiens"): a workshop served under a path."""
        for env in self.envs.values():
            env.globals["base"] = base

    def render(self, lang: str, template: str, context: dict[str, Any]) -> str:
        return self.envs[lang].get_template(template).render(context)

    def names_used(self, template: str) -> frozenset[str] | None:
        """The context names a template (and what it includes) reads; None when an include
        is chosen at run time, so anything may be read."""
        if template not in self._names_used:
            self._names_used[template] = self._find_names(template, set())
        return self._names_used[template]

    def _find_names(self, template: str, seen: set[str]) -> frozenset[str] | None:
        seen.add(template)
        env = self.envs["en"]
        source, _, _ = env.loader.get_source(env, template)  # type: ignore[union-attr]
        ast = env.parse(source)
        names = set(meta.find_undeclared_variables(ast))
        for child in meta.find_referenced_templates(ast):
            if child is None:
                return None
            if child not in seen:
                found = self._find_names(child, seen)
                if found is None:
                    return None
                names |= found
        return frozenset(names)

    def has_template(self, template: str) -> bool:
        try:
            self.envs["en"].get_template(template)
        except Exception:
            return False
        return True

    def gettext(self, lang: str, message: str, params: dict[str, Any] | None = None) -> str:
        return translate(self.translations[lang], message, params or {})
