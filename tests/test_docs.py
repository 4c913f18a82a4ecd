"""The README documents every setting and every CLI command."""

from pathlib import Path

from typer.main import get_command

from matcher.cli import app
from matcher.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    missing = [f"TECHMATCH_{n.upper()}" for n in Settings.model_fields if f"TECHMATCH_{n.upper()}" not in README]
    assert not missing


def test_every_command_is_documented():
    commands = get_command(app).commands
    missing = [name for name in commands if f"techmatch {name}" not in README]
    assert not missing
