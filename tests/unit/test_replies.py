"""Where a worker replies (workers/replies.py): the rule alone."""

import pytest

from workers.replies import refusal

DIRECT = "amq.rabbitmq.reply-to.g1h2AA1yZXBseUA5MjQ4ODg0AAAeUgAAAAFrFAHO.eodIh08ja6kllgmFRsnskg=="


@pytest.mark.parametrize(
    ("reply_to", "user_id"),
    [
        (DIRECT, None),
        ("amq.gen-JzTY20BRgKO-HjmUJj0wLg", None),
        ("billing.replies", None),  # a trusted system's own name
        ("ext.billing.replies", "billing"),
    ],
)
def test_replies_go_to_the_publishers_own_queues(reply_to: str, user_id: str | None) -> None:
    assert refusal(reply_to, user_id) is None


@pytest.mark.parametrize(
    ("reply_to", "user_id"),
    [
        ("idp.auth", None),
        ("idp.dead", "billing"),
        ("amq.rabbitmq.reply-to", None),  # the bare name is the requester's, never a reply's
        ("amq.rabbitmq.reply-to.bad name", None),
        ("amq.direct", None),
        ("amq.gen-", None),
        ("ext.payroll.replies", None),
        ("ext.payroll.replies", "billing"),
        ("ext.billingx.replies", "billing"),
        ("ext.billing", "billing"),
    ],
)
def test_replies_never_go_to_the_platform_or_another_account(
    reply_to: str, user_id: str | None
) -> None:
    assert refusal(reply_to, user_id) is not None
