import pytest

from omsync.errors import ConfigError
from omsync.settings import Settings


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
