"""`git push -o ci.skip`: the options git hands the pre-receive hook."""

from __future__ import annotations

from wharf.platform.git.hook import push_options, skips_tests


def test_ci_skip_is_read_from_the_hooks_push_options() -> None:
    env = {"GIT_PUSH_OPTION_COUNT": "2", "GIT_PUSH_OPTION_0": "other", "GIT_PUSH_OPTION_1": "ci.skip"}
    assert push_options(env) == ["other", "ci.skip"]
    assert skips_tests(push_options(env))


def test_no_or_other_options_run_the_tests() -> None:
    assert push_options({}) == []
    assert not skips_tests(push_options({"GIT_PUSH_OPTION_COUNT": "1", "GIT_PUSH_OPTION_0": "ci.skipped"}))
    assert push_options({"GIT_PUSH_OPTION_COUNT": "x"}) == []
    assert len(push_options({"GIT_PUSH_OPTION_COUNT": "100000"})) == 32
