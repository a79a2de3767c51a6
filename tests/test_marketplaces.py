"""The account's marketplaces in settings: one form or the other, from Amazon's list, one region."""

import pytest

from omsync.core.errors import ConfigError
from omsync.core.settings import Settings


def test_the_one_marketplace_settings_keep_working():
    s = Settings.from_env({"OMSYNC_MARKETPLACE_ID": "A1PA6795UKMFR9", "OMSYNC_CURRENCY": "eur"})
    assert (s.marketplace_id, s.currency, s.marketplace_ids) == ("A1PA6795UKMFR9", "EUR", ("A1PA6795UKMFR9",))
    assert (s.marketplaces[0].country, s.marketplaces[0].region) == ("DE", "eu")
    assert Settings.from_env({"OMSYNC_MARKETPLACE_ID": "A1F83G8C2ARO7P"}).currency == "GBP", "the currency comes with the id"


def test_several_marketplaces_of_one_region_bring_their_currencies_and_the_first_is_home():
    s = Settings.from_env({"OMSYNC_MARKETPLACES": "A2EUQ1WTGCTBG2, ATVPDKIKX0DER,A1AM78C64UM0Y8"})
    assert s.marketplace_ids == ("A2EUQ1WTGCTBG2", "ATVPDKIKX0DER", "A1AM78C64UM0Y8")
    assert [m.currency for m in s.marketplaces] == ["CAD", "USD", "MXN"]
    assert (s.marketplace_id, s.currency) == ("A2EUQ1WTGCTBG2", "CAD")


@pytest.mark.parametrize("env, named", [
    ({"OMSYNC_MARKETPLACES": "A1PA6795UKMFR9,ATVPDKIKX0DER"}, "spans SP-API regions"),
    ({"OMSYNC_MARKETPLACES": "A1PA6795UKMFR9,A1PA6795UKMFR9"}, "named twice"),
    ({"OMSYNC_MARKETPLACES": "A1PA6795UKMFR9,NOPE"}, "NOPE is not an Amazon marketplace id"),
    ({"OMSYNC_MARKETPLACE_ID": "ATVPDKIKX0DE"}, "OMSYNC_MARKETPLACE_ID: ATVPDKIKX0DE is not"),
    ({"OMSYNC_MARKETPLACES": "A1PA6795UKMFR9", "OMSYNC_MARKETPLACE_ID": "A1PA6795UKMFR9"}, "set one form, not both"),
    ({"OMSYNC_MARKETPLACES": " , "}, "OMSYNC_MARKETPLACES: empty"),
])
def test_a_bad_marketplace_setting_names_the_variable_and_the_problem(env, named):
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)
