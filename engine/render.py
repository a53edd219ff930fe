"""Jinja environments (one per language) and rendering of shells and activity views."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pluggy
from babel.support import NullTranslations
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, StrictUndefined

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
            )
            env.install_gettext_translations(self.translations[lang], newstyle=True)  # type: ignore[attr-defined]
            env.globals["lang"] = lang
            env.globals["activity_stylesheets"] = self.stylesheets
            pm.hook.prepare_jinja2_environment(env=env)
            self.envs[lang] = env

    def render(self, lang: str, template: str, context: dict[str, Any]) -> str:
        return self.envs[lang].get_template(template).render(context)

    def has_template(self, template: str) -> bool:
        try:
            self.envs["en"].get_template(template)
        except Exception:
            return False
        return True

    def gettext(self, lang: str, message: str, params: dict[str, Any] | None = None) -> str:
        return translate(self.translations[lang], message, params or {})
