"""The option table: one declaration that the constructor, the environment, PasteDeploy, ``check``
and the README all follow."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import pathlib
import re
import typing as t

import pytest
from conftest import CLIENT_ID, CLIENT_SECRET, SECRET_KEY, downstream

from oauth_middleware import ConfigurationError, OAuthMiddleware, config, options
from oauth_middleware.options import ENV_PREFIX, OPTIONS, REQUIRED

README = pathlib.Path(__file__).parent.parent / "README.md"
BASE = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "secret_key": SECRET_KEY}


def test_the_signature_and_the_table_agree_exactly() -> None:
    """Names, order, keyword-only-ness and defaults: the table cannot drift from the signature
    that type checkers and IDEs read."""
    parameters = list(inspect.signature(OAuthMiddleware.__init__).parameters.values())
    assert [p.name for p in parameters[:2]] == ["self", "app"]
    options_ = parameters[2:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in options_)
    assert [p.name for p in options_] == [option.name for option in OPTIONS]
    for parameter, option in zip(options_, OPTIONS, strict=True):
        if option.default is REQUIRED:
            assert parameter.default is inspect.Parameter.empty, option.name
            assert option.default_text == "required"
        else:
            assert parameter.default == option.default, option.name
            assert type(parameter.default) is type(option.default), option.name
            if callable(option.default):
                assert option.default_text == "%s.%s" % (option.default.__module__, option.default.__name__)
            else:
                assert ast.literal_eval(option.default_text) == option.default, option.name


def test_the_table_is_consistent() -> None:
    names = [option.name for option in OPTIONS]
    assert len(set(names)) == len(names)
    envs = [option.env for option in OPTIONS if option.env]
    assert len(set(envs)) == len(envs)
    for option in OPTIONS:
        assert option.help.strip() and option.type_text and option.default_text
        assert set(option.needs) <= set(names) - {option.name}
        assert (option.env is None) == (option.parse is None) == (option.setting is None), option.name
        if option.env is not None:
            assert option.env.startswith(ENV_PREFIX) or option.env.startswith("GITHUB_OAUTH_")
            assert option.text_format and option.example, option.name
    assert {option.name for option in OPTIONS if option.env is None} == {"clock"}
    assert options.BY_NAME["max_age"].env == "OAUTH_MIDDLEWARE_MAX_AGE"
    assert options.BY_NAME["client_id"].env == "GITHUB_OAUTH_CLIENT_ID"


def test_the_documented_tables_are_generated_from_the_table() -> None:
    """docs/configuration.md holds exactly the environment table generated from the option table
    (regenerate with ``python -c "from oauth_middleware import options;
    print(options.env_markdown_table())"``); the options page renders ``OPTIONS`` itself
    (docs/_ext/oauth_options.py, tested in tests/test_docs.py)."""
    configuration = (README.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert options.env_markdown_table() in configuration
    first = options.markdown_table().splitlines()[2]
    assert first.startswith("| `client_id` | `str` | required | ")
    assert "| `secret_key` | `str \\| bytes \\| list` | required |" in options.markdown_table()


def test_validate_fills_defaults_and_normalises() -> None:
    settings = options.validate({**BASE, "scope": "read:user, user:email", "allowed_orgs": ["Octo-Org"]})
    assert list(settings) == [option.name for option in OPTIONS]
    assert settings["scope"] == ("read:user", "user:email", "read:org")
    assert settings["revalidate_after"] == 600 and settings["max_age"] == 7 * 24 * 3600
    assert settings["secret_key"] == (SECRET_KEY.encode(),)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("client_id", ""),
        ("secret_key", "short"),
        ("scope", 5),
        ("login_path", "login"),
        ("logout_path", "/auth/login"),
        ("redirect_uri", "https://app.example.com/elsewhere"),
        ("public_paths", "/static"),
        ("max_age", 0),
        ("cookie_name", "bad name"),
        ("secure", "yes"),
        ("timeout", 0),
        ("allowed_users", [0]),
        ("allowed_teams", ["ops"]),
        ("revalidate_after", -1),
        ("idle_timeout", "ten"),
        ("clock", 5),
    ],
)
def test_configuration_error_names_the_option(option: str, value: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        OAuthMiddleware(downstream, **{**BASE, option: value})
    assert (info.value.option, info.value.env) == (option, None)
    assert option in str(info.value)


def test_configuration_error_from_the_environment_names_the_variable() -> None:
    environ = {
        "GITHUB_OAUTH_CLIENT_ID": CLIENT_ID,
        "GITHUB_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "OAUTH_MIDDLEWARE_SECRET_KEY": SECRET_KEY,
        "OAUTH_MIDDLEWARE_REDIRECT_URI": "http://app.example.com/auth/callback",
    }
    with pytest.raises(ConfigurationError) as info:
        config.from_env(downstream, environ)
    assert (info.value.option, info.value.env) == ("redirect_uri", "OAUTH_MIDDLEWARE_REDIRECT_URI")
    # the fix is given in the form the user writes: a variable, not a keyword argument
    assert "set OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP=1" in str(info.value)
    assert "allow_insecure_http" not in str(info.value)
    with pytest.raises(ConfigurationError) as info:
        config.from_env(downstream, {**environ, "OAUTH_MIDDLEWARE_MAX_AGE": "soon"})
    assert (info.value.option, info.value.env) == ("max_age", "OAUTH_MIDDLEWARE_MAX_AGE")


def test_an_option_given_in_python_keeps_its_python_name() -> None:
    with pytest.raises(ConfigurationError) as info:
        config.from_env(
            downstream,
            {"GITHUB_OAUTH_CLIENT_ID": CLIENT_ID, "GITHUB_OAUTH_CLIENT_SECRET": CLIENT_SECRET},
            secret_key="short",
        )
    assert str(info.value).startswith("secret_key is 5 bytes long")
    assert (info.value.option, info.value.env) == ("secret_key", None)


def test_subclass_options_outside_the_table_still_come_from_the_environment() -> None:
    class Retrying(OAuthMiddleware):
        def __init__(self, app: t.Any, *, retries: int = 3, **kwargs: t.Any) -> None:
            if retries < 0:
                raise ConfigurationError("retries must not be negative", option="retries")
            super().__init__(app, **kwargs)
            self.retries = retries

    environ = {
        "GITHUB_OAUTH_CLIENT_ID": CLIENT_ID,
        "GITHUB_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "OAUTH_MIDDLEWARE_SECRET_KEY": SECRET_KEY,
    }
    built = config.from_env(downstream, {**environ, "OAUTH_MIDDLEWARE_RETRIES": "5"}, middleware_class=Retrying)
    assert isinstance(built, Retrying) and built.retries == 5
    with pytest.raises(ConfigurationError) as info:
        config.from_env(downstream, {**environ, "OAUTH_MIDDLEWARE_RETRIES": "-1"}, middleware_class=Retrying)
    assert str(info.value).startswith("OAUTH_MIDDLEWARE_RETRIES: retries must not be negative")
    assert info.value.env == "OAUTH_MIDDLEWARE_RETRIES"


def test_the_class_docstring_documents_exactly_the_options() -> None:
    """The docstring's ``:param:`` lines (what IDEs show) follow the table's names and order."""
    documented = re.findall(r"^    :param (\w+):", OAuthMiddleware.__doc__ or "", flags=re.MULTILINE)
    assert documented == ["app", *(option.name for option in OPTIONS)]


def test_each_option_is_validated_after_the_options_it_needs() -> None:
    order = [option.name for option in options._validation_order(OPTIONS)]
    assert sorted(order) == sorted(option.name for option in OPTIONS)
    for option in OPTIONS:
        assert all(order.index(need) < order.index(option.name) for need in option.needs), option.name
    looped = [options.BY_NAME["login_path"], options.BY_NAME["callback_path"]]
    looped[0] = dataclasses.replace(looped[0], needs=("callback_path",))
    with pytest.raises(RuntimeError, match="form a cycle"):
        options._validation_order(looped)
