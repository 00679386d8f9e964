"""Settings come from PERCEPTION_* variables; a wrong value stops the start and names the variable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from perception import create_app
from perception.settings import SettingsError


def test_settings_come_from_prefixed_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERCEPTION_INSTANCE_PATH", str(tmp_path / "state"))
    monkeypatch.setenv("PERCEPTION_REPORTING_THRESHOLD", "8")
    monkeypatch.setenv("PERCEPTION_BASE_URL", "https://survey.example.com/")
    app = create_app()
    assert app.instance_path == str(tmp_path / "state")
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'state' / 'perception.db'}"
    assert app.config["REPORTING_THRESHOLD"] == 8
    assert app.config["BASE_URL"] == "https://survey.example.com"


def test_config_passed_to_the_factory_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERCEPTION_REPORTING_THRESHOLD", "8")
    app = create_app({"INSTANCE_PATH": str(tmp_path), "REPORTING_THRESHOLD": "12"})
    assert app.config["REPORTING_THRESHOLD"] == 12


def test_the_secret_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = create_app({"INSTANCE_PATH": str(tmp_path)})
    second = create_app({"INSTANCE_PATH": str(tmp_path)})
    key_file = tmp_path / "secret_key"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    other = create_app({"INSTANCE_PATH": str(tmp_path / "other")})
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_a_secret_key_from_the_environment_is_used_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERCEPTION_SECRET_KEY", "k" * 40)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SECRET_KEY"] == "k" * 40
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PERCEPTION_REPORTING_THRESHOLD", "five", "PERCEPTION_REPORTING_THRESHOLD must be a whole number"),
        ("PERCEPTION_REPORTING_THRESHOLD", "1", "PERCEPTION_REPORTING_THRESHOLD must be at least 2"),
        ("PERCEPTION_DATABASE_URL", "not a url", "PERCEPTION_DATABASE_URL is not a database URL"),
        ("PERCEPTION_DATABASE_URL", "mysql://root@localhost/x", "perception runs on sqlite or postgresql"),
        ("PERCEPTION_QUEUE_URL", "amqp://guest@localhost", "PERCEPTION_QUEUE_URL must be 'sqlite'"),
        ("PERCEPTION_BASE_URL", "survey.example.com", "PERCEPTION_BASE_URL must start with http"),
        ("PERCEPTION_LINK_DAYS", "0", "PERCEPTION_LINK_DAYS must be at least 1"),
    ],
)
def test_a_bad_setting_stops_the_start_and_says_which(
    variable: str, value: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=message):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_a_truncated_secret_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("short\n")
    with pytest.raises(SettingsError, match="too short to be safe"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_redis_queue_in_production(tmp_path: Path) -> None:
    from huey import RedisHuey

    app = create_app({"INSTANCE_PATH": str(tmp_path), "QUEUE_URL": "redis://127.0.0.1:6379/15"})
    assert isinstance(app.extensions["perception"].queue, RedisHuey)
