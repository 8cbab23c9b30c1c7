"""The one parser style: a bad argument is one line that names it, suggests the option meant, says the type."""
from __future__ import annotations

import pytest

from privib.errors import ConfigError
from privib.parsing import describe_error, flag, new_parser, parse


def _parser():
    parser = new_parser("privib demo", "A demo command.")
    parser.add_argument("--model.beta", type=float, default=0.1)
    parser.add_argument(*flag("--batch_size"), type=int, default=8)
    return parser


def test_a_misspelt_option_gets_the_close_match():
    with pytest.raises(ConfigError) as info:
        parse(_parser(), ["--model.bta", "1"])
    assert str(info.value) == "unknown option --model.bta (did you mean --model.beta?): run `privib demo --help` for every option"


def test_a_wrong_type_is_said_in_plain_words():
    with pytest.raises(ConfigError) as info:
        parse(_parser(), ["--model.beta", "abc"])
    assert str(info.value).startswith("--model.beta must be a number, got 'abc'")
    assert "<class" not in str(info.value)


def test_underscores_are_the_spelling_and_hyphens_an_alias():
    assert parse(_parser(), ["--batch_size", "3"]).batch_size == 3
    assert parse(_parser(), ["--batch-size", "4"]).batch_size == 4


def test_an_option_with_no_close_match_still_names_help():
    message = describe_error("unrecognized arguments: --frobnicate", ["--model.beta"], "privib demo")
    assert message == "unknown option --frobnicate: run `privib demo --help` for every option"
