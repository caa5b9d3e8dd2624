"""Spanish and English for what people read: the web app's pages and messages (and the report's, as it moves
to them). One gettext catalogue per language, ``icam/report/locale/<lang>/LC_MESSAGES/messages.po``, read with
Babel when first asked for (no compiled ``.mo`` file, so no build step at install); English is the source
language. Numbers and dates follow the locale's CLDR conventions: ``es`` is formatted as Peru's Spanish
(es-PE), ``en`` as English.

To add the strings of a changed template to the catalogue::

    pybabel extract -F babel.cfg -o messages.pot src/icam && pybabel update -i messages.pot -d src/icam/report/locale
"""

from __future__ import annotations

import datetime as dt
import io
from functools import cache
from importlib import resources

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"  # the people of the initiative work in Spanish
LOCALES = {"es": "es_PE", "en": "en"}


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark for translation, translate later"
    """Mark ``message`` for the catalogue without translating it here (it is a code shown through ``_()``)."""
    return message


# Codes that pages show through _(value): roles, statuses, priorities, zones, ledger events, registry tables.
LABELS = (
    N_("admin"), N_("analyst"), N_("agreements"), N_("ranger"), N_("verifier"), N_("jurisdiction"), N_("public"),
    N_("compliant"), N_("to_verify"), N_("breach"), N_("not_in_force"), N_("not_assessed"),
    N_("high"), N_("medium"), N_("low"), N_("new"), N_("assigned"), N_("checked"),
    N_("true_positive"), N_("false_positive"),
    N_("clearing"), N_("logging"), N_("new_settlement"), N_("fire"), N_("none"), N_("hunting"),
    N_("held"), N_("retired"), N_("cancelled"), N_("issuance"), N_("buffer_contribution"), N_("transfer"),
    N_("retirement"), N_("cancellation"), N_("buffer"), N_("holder"),
    N_("open"), N_("in_progress"), N_("resolved"),
    N_("grid"), N_("project_area"), N_("leakage_belt"), N_("reference_region"), N_("outside"),
    N_("households"), N_("members"), N_("parcels"), N_("benefit_schedule"), N_("deliveries"),
    N_("field_verifications"), N_("grievances"),
)


@cache
def translations(lang: str) -> Translations:
    """The catalogue of ``lang`` (``es``, ``en``; English's gives codes such as ``to_verify`` their words)."""
    po = resources.files("icam.report").joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def negotiate(accept_language: str | None, choice: str | None = None) -> str:
    """The language to answer in: the user's ``choice`` if it is one of :data:`LANGUAGES`, else the first of
    the browser's ``Accept-Language`` (by its q-values) that is, else :data:`DEFAULT_LANGUAGE`."""
    if choice in LANGUAGES:
        return choice
    ranked: list[tuple[float, int, str]] = []
    for k, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        try:
            language = Locale.parse(tag.strip().replace("-", "_")).language if tag.strip() not in ("", "*") else ""
        except (ValueError, UnknownLocaleError):
            language = ""
        if language in LANGUAGES and q > 0:
            ranked.append((-q, k, language))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def number(value: float | int | None, lang: str, digits: int = 0) -> str:
    """``value`` with the locale's grouping and decimal signs, rounded to ``digits`` decimals ('' for None)."""
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(round(value, digits), format=pattern, locale=LOCALES[lang])


def date(value: dt.date | str | None, lang: str) -> str:
    """A date as the locale writes it in medium form (``1 may. 2024``, ``May 1, 2024``); '' for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return format_date(value, format="medium", locale=LOCALES[lang])


def datetime(value: dt.datetime | str | None, lang: str) -> str:
    """A time (UTC) as the locale writes it, minutes kept; '' for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return format_datetime(value, format="short", locale=LOCALES[lang]) + " UTC"


__all__ = ["DEFAULT_LANGUAGE", "LABELS", "LANGUAGES", "LOCALES", "N_", "date", "datetime", "negotiate", "number",
           "translations"]
