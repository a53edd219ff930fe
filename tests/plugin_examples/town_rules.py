# --8<-- [start:register_locale_dirs]
"""A rule shared by a town's activities; its message is translated like an activity's."""

from pathlib import Path

from palabre.engine import N_, Rejection, hookimpl


def refuse_phone_numbers(text: str) -> None:
    """Residents' texts are projected: no phone numbers on the screen."""
    if sum(ch.isdigit() for ch in text) >= 8:
        raise Rejection("phone_number", N_("Please do not post phone numbers."), field="text")


@hookimpl
def register_locale_dirs() -> list[Path]:
    # This module is no activity's package, so its catalog must be named:
    # town_rules_locales/fr/LC_MESSAGES/palabre.po
    return [Path(__file__).parent / "town_rules_locales"]


# --8<-- [end:register_locale_dirs]
