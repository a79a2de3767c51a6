import pytest

from omsync.core.errors import ConfigError
from omsync.core.settings import Settings


def test_defaults_are_the_embedded_demo():
    s = Settings.from_env({})
    assert s.om_url == "sqlite:///data/om.sqlite"
    assert str(s.warehouse) == "data/warehouse.duckdb"
    assert s.amazon_endpoint is None
    assert (s.marketplace_id, s.currency) == ("ATVPDKIKX0DER", "USD")


def test_secrets_never_show_in_repr_or_str():
    s = Settings.from_env(
        {
            "SP_API_REFRESH_TOKEN": "Atzr|very-secret-refresh",
            "LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.topsecret",
            "OMSYNC_OM_URL": "postgresql://omsync:hunter2@db.internal:5432/om",
        }
    )
    for text in (repr(s), str(s), f"{s}", repr(s.refresh_token), str(s.lwa_client_secret)):
        assert "very-secret-refresh" not in text
        assert "topsecret" not in text
        assert "hunter2" not in text
    assert s.refresh_token.reveal() == "Atzr|very-secret-refresh"
    assert "postgresql://omsync:***@db.internal:5432/om" in repr(s)


@pytest.mark.parametrize(
    "env, setting",
    [
        ({"OMSYNC_OM_URL": "mysql://root@localhost/om"}, "OMSYNC_OM_URL"),
        ({"OMSYNC_OM_URL": "postgresql://:5432"}, "OMSYNC_OM_URL"),
        ({"OMSYNC_OM_URL": "postgresql://u@host:notaport/om"}, "OMSYNC_OM_URL"),
        ({"OMSYNC_OM_URL": "sqlite://"}, "OMSYNC_OM_URL"),
        ({"OMSYNC_AMAZON_ENDPOINT": "127.0.0.1:8900"}, "OMSYNC_AMAZON_ENDPOINT"),
        ({"OMSYNC_CURRENCY": "EURO"}, "OMSYNC_CURRENCY"),
    ],
)
def test_bad_configuration_names_the_setting(env, setting):
    with pytest.raises(ConfigError, match=setting):
        Settings.from_env(env)


def test_bad_url_error_masks_the_password():
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"OMSYNC_OM_URL": "postgresql://u:hunter2@host:x/om"})
    assert "hunter2" not in str(err.value)


def test_the_settings_file_fills_what_the_environment_leaves_unset(tmp_path):
    from omsync import config

    (tmp_path / "omsync.toml").write_text('om_url = "postgresql://u:pw@db/om"\nwarehouse = "w/file.duckdb"\ncurrency = "EUR"\n')
    env = {"OMSYNC_CONFIG": str(tmp_path / "omsync.toml"), "OMSYNC_WAREHOUSE": "w/env.duckdb"}
    origin = config.apply(env)
    s = Settings.from_env(env)
    assert (s.om_url, str(s.warehouse), s.currency) == ("postgresql://u:pw@db/om", "w/env.duckdb", "EUR")
    assert origin["OMSYNC_OM_URL"] == str(tmp_path / "omsync.toml") and origin["OMSYNC_WAREHOUSE"] == "environment"
    assert origin["OMSYNC_SELLER_ID"] == "default"


@pytest.mark.parametrize("text, needle", [("om_ur = 'x'", "unknown setting om_ur"), ("om_url = ", "not valid TOML"),
                                          ("[om_url]\nx = 1", "om_url must be a string")])
def test_a_bad_settings_file_is_a_config_error_naming_it(tmp_path, text, needle):
    from omsync import config

    (tmp_path / "omsync.toml").write_text(text)
    with pytest.raises(ConfigError, match=needle):
        config.apply({"OMSYNC_CONFIG": str(tmp_path / "omsync.toml")})


def test_omsync_config_masks_secrets_and_says_where_each_setting_came_from(tmp_path):
    from tests.test_cli import run

    (tmp_path / "omsync.toml").write_text('refresh_token = "Atzr|file-secret"\nom_url = "postgresql://u:hunter2@db/om"\n'
                                          'notify = "https://hooks.example/services/T0/key"\n')
    done = run("config", cwd=tmp_path, env={"LWA_CLIENT_SECRET": "env-secret", "OMSYNC_SELLER_ID": "A1ENV",
                                            "SP_API_REFRESH_TOKEN": "", "OMSYNC_OM_URL": "", "OMSYNC_NOTIFY_URL": ""})
    rows = {line.split()[1]: line.split() for line in done.stdout.splitlines() if len(line.split()) >= 4}
    assert rows["SP_API_REFRESH_TOKEN"][2:] == ["********", "omsync.toml"]
    assert rows["LWA_CLIENT_SECRET"][2:] == ["********", "environment"]
    assert rows["OMSYNC_SELLER_ID"][2:] == ["A1ENV", "environment"]
    assert rows["OMSYNC_OM_URL"][2:] == ["postgresql://u:***@db/om", "omsync.toml"]
    assert rows["OMSYNC_NOTIFY_URL"][2:] == ["https://hooks.example/***", "omsync.toml"]
    for secret in ("file-secret", "env-secret", "hunter2", "T0/key"):
        assert secret not in done.stdout + done.stderr
