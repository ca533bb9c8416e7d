"""The LLM cool-down: one outage makes the next drafts go offline at once, not wait a minute each."""

from __future__ import annotations

import httpx
import openai
import pytest

from kb.drafting.llm import LLMCooldown, LLMUnavailable, is_outage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _wrapped(exc: BaseException) -> LLMUnavailable:
    try:
        raise LLMUnavailable(f"{type(exc).__name__}: {exc}") from exc
    except LLMUnavailable as wrapped:
        return wrapped


_REQUEST = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")


@pytest.mark.parametrize("exc, outage", [
    (openai.APITimeoutError(request=_REQUEST), True),
    (openai.APIConnectionError(request=_REQUEST), True),
    (httpx.ConnectError("connection refused"), True),
    (ConnectionRefusedError(111, "refused"), True),
    (TimeoutError(), True),
    (openai.InternalServerError("bad gateway", response=httpx.Response(502, request=_REQUEST), body=None), True),
    (openai.BadRequestError("context length exceeded", response=httpx.Response(400, request=_REQUEST), body=None),
     False),
    (openai.RateLimitError("slow down", response=httpx.Response(429, request=_REQUEST), body=None), False),
    (ValueError("the model answered something unusable"), False),
])
def test_outages_are_told_apart_from_bad_requests(exc, outage):
    assert is_outage(_wrapped(exc)) is outage


def test_an_outage_skips_the_endpoint_for_the_cooldown_then_tries_again():
    clock = Clock()
    cooldown = LLMCooldown(60, clock=clock)
    assert cooldown.skip_reason() is None

    cooldown.record_failure(_wrapped(openai.APITimeoutError(request=_REQUEST)))
    clock.now += 5
    reason = cooldown.skip_reason()
    assert reason is not None
    assert "failed 5 s ago" in reason and "APITimeoutError" in reason and "55 s more" in reason

    clock.now += 55
    assert cooldown.skip_reason() is None, "after the cool-down the endpoint is tried again"


def test_a_bad_request_or_a_disabled_cooldown_never_skips():
    clock = Clock()
    cooldown = LLMCooldown(60, clock=clock)
    cooldown.record_failure(_wrapped(ValueError("unusable answer")))
    assert cooldown.skip_reason() is None
    disabled = LLMCooldown(0, clock=clock)
    disabled.record_failure(_wrapped(TimeoutError()))
    assert disabled.skip_reason() is None


def test_success_ends_the_cooldown():
    clock = Clock()
    cooldown = LLMCooldown(60, clock=clock)
    cooldown.record_failure(_wrapped(TimeoutError()))
    assert cooldown.skip_reason()
    cooldown.record_success()
    assert cooldown.skip_reason() is None
