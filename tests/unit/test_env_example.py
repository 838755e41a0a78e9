""".env.example lists every setting (SPEC 2: every variable, with a comment)."""

import re
from pathlib import Path

from idp.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_every_setting_is_in_env_example_and_nothing_else() -> None:
    text = ENV_EXAMPLE.read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    assert listed == {name.upper() for name in Settings.model_fields}


def test_env_example_is_a_valid_configuration() -> None:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.lower()] = value
    settings = Settings.model_validate(values)
    assert settings.edge_port == 3001
