"""The building blocks of every ``icam.toml`` section: frozen models that refuse unknown keys."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

CONFIG_NAME = "icam.toml"
Year = Annotated[int, Field(ge=1970, le=2100)]
# a value `icam init` writes for the user to replace, e.g. "<project name>": never run with one
_PLACEHOLDER = re.compile(r"^\s*<[^<>]*>\s*$")


def _no_placeholder(value: str) -> str:
    if _PLACEHOLDER.match(value):
        raise ValueError("still the template's placeholder; write the project's own value there")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

