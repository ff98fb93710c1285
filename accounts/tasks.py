"""Deliver care-team invitations in the background.

The page that sends an invitation only queues it, so its answer and its timing are the same
whether or not the address has an account (accounts.services.care_link_invite).
"""

from celery import shared_task


@shared_task(name="accounts.deliver_care_link_invite", acks_late=True, ignore_result=True)
def care_link_invite_task(inviter_id, email):
    from accounts import services

    services.care_link_invite_deliver(inviter_id=inviter_id, email=email)
