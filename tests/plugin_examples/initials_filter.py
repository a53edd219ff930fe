# --8<-- [start:prepare_jinja2_environment]
"""A Jinja filter for every template: `{{ person.name|initials }}` shows "Ana Dupont" as
"A. D." (a team list on the screen without full names)."""

from jinja2 import Environment

from palabre.engine import hookimpl


def initials(name: str) -> str:
    return " ".join(f"{part[0]}." for part in name.split())


@hookimpl
def prepare_jinja2_environment(env: Environment) -> None:
    # Called once per language before any template renders.
    env.filters["initials"] = initials


# --8<-- [end:prepare_jinja2_environment]
