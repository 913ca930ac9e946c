"""Deliveries to a real loopback receiver: payload shapes, batching, retries, giving up, rollbacks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from activities.record import record
from hosts.models import Host
from queries.models import Policy, PolicyMembership
from webhooks import triggers
from webhooks.choices import Kind, Status
from webhooks.models import AutomationSettings, Delivery

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def _settings(webhooks=None, integrations=None) -> None:
    AutomationSettings(pk=1, webhook_settings=webhooks or {}, integrations=integrations or {}).save()


def _activities_on(receiver) -> None:
    _settings({"activities_webhook": {"enable_activities_webhook": True, "destination_url": f"{receiver.url}/a"}})


def test_each_new_activity_is_posted_after_commit(admin, receiver, django_capture_on_commit_callbacks):
    _activities_on(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        activity = record(admin, "edited_app_config", {"fields": ["org_info.org_name"]})
    assert receiver.posts("/a") == [
        {
            "timestamp": activity.created_at.isoformat().replace("+00:00", "Z"),
            "actor_full_name": admin.name,
            "actor_id": admin.pk,
            "actor_email": admin.email,
            "type": "edited_app_config",
            "details": {"fields": ["org_info.org_name"]},
        }
    ]
    assert Delivery.objects.get().status == Status.DELIVERED


def test_fleet_initiated_activities_name_fleet(receiver, django_capture_on_commit_callbacks):
    _activities_on(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        record(None, "ran_script", {})
    sent = receiver.posts("/a")[0]
    assert (sent["actor_full_name"], sent["actor_id"], sent["actor_email"]) == ("Fleet", None, None)


def test_nothing_is_sent_when_the_transaction_rolls_back(admin, receiver, django_capture_on_commit_callbacks):
    _activities_on(receiver)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        record(admin, "edited_app_config", {})
        raise RuntimeError("the change failed")
    assert receiver.received == []
    assert Delivery.objects.count() == 0


def test_a_500_is_retried_until_accepted(admin, receiver, django_capture_on_commit_callbacks):
    _activities_on(receiver)
    receiver.statuses = [500, 503]
    with django_capture_on_commit_callbacks(execute=True):
        record(admin, "edited_app_config", {})
    assert len(receiver.posts("/a")) == 3
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (Status.DELIVERED, 3, 200)


def test_it_gives_up_after_the_last_attempt_and_records_why(
    admin, receiver, settings, django_capture_on_commit_callbacks
):
    settings.FLEETSITE_WEBHOOK_MAX_ATTEMPTS = 3
    _activities_on(receiver)
    receiver.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        record(admin, "edited_app_config", {})  # does not raise
    assert len(receiver.posts("/a")) == 3
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Status.FAILED, 3)
    assert delivery.last_error.startswith("HTTP 500")


def test_a_slow_receiver_times_out(admin, receiver, settings, django_capture_on_commit_callbacks):
    settings.FLEETSITE_WEBHOOK_MAX_ATTEMPTS = 1
    settings.FLEETSITE_WEBHOOK_TIMEOUT = 0.2
    receiver.delay = 1.0
    _activities_on(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        record(admin, "edited_app_config", {})
    delivery = Delivery.objects.get()
    assert delivery.status == Status.FAILED
    assert "Timeout" in delivery.last_error


def _failing(policy: Policy, count: int) -> list[Host]:
    hosts = []
    for n in range(count):
        host = Host.objects.create(hostname=f"h{n}.example.com", computer_name=f"H{n}", osquery_host_id=f"h{n}")
        PolicyMembership.objects.create(policy=policy, host=host, passes=False, webhook_pending=True)
        hosts.append(host)
    return hosts


def test_failing_policy_hosts_are_posted_in_batches(receiver, settings, django_capture_on_commit_callbacks):
    settings.FLEETSITE_SERVER_URL = "https://fleet.example.com"
    policy = Policy.objects.create(name="Firewall on", query="SELECT 1")
    other = Policy.objects.create(name="Not automated", query="SELECT 1")
    hosts = _failing(policy, 3)
    PolicyMembership.objects.create(policy=other, host=hosts[0], passes=False, webhook_pending=True)
    hook = {"enable_failing_policies_webhook": True, "destination_url": f"{receiver.url}/p",
            "policy_ids": [policy.pk], "host_batch_size": 2}  # fmt: skip
    _settings({"failing_policies_webhook": hook})
    with django_capture_on_commit_callbacks(execute=True):
        assert triggers.failing_policies() == 2
    posts = receiver.posts("/p")
    assert [[host["id"] for host in post["hosts"]] for post in posts] == [[h.pk for h in hosts[:2]], [hosts[2].pk]]
    assert posts[0]["hosts"][0] == {
        "id": hosts[0].pk,
        "hostname": "h0.example.com",
        "display_name": "H0",
        "url": f"https://fleet.example.com/hosts/{hosts[0].pk}",
    }
    assert set(posts[0]) == {"timestamp", "policy", "hosts"}
    assert posts[0]["policy"]["id"] == policy.pk
    assert posts[0]["policy"]["name"] == "Firewall on"
    assert posts[0]["policy"]["failing_host_count"] == 3
    with django_capture_on_commit_callbacks(execute=True):
        assert triggers.failing_policies() == 0  # each flip is sent once
    assert PolicyMembership.objects.get(policy=other).webhook_pending  # not automated: untouched


def test_failing_hosts_that_never_arrived_are_reported_again(receiver, settings, django_capture_on_commit_callbacks):
    settings.FLEETSITE_WEBHOOK_MAX_ATTEMPTS = 2
    receiver.status = 500
    policy = Policy.objects.create(name="Disk", query="SELECT 1")
    _failing(policy, 1)
    hook = {"enable_failing_policies_webhook": True, "destination_url": f"{receiver.url}/p", "policy_ids": [policy.pk]}
    _settings({"failing_policies_webhook": hook})
    with django_capture_on_commit_callbacks(execute=True):
        triggers.failing_policies()
    assert Delivery.objects.get().status == Status.FAILED
    assert PolicyMembership.objects.get().webhook_pending
    receiver.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        assert triggers.failing_policies() == 1
    assert Delivery.objects.filter(status=Status.DELIVERED).count() == 1


def test_a_jira_ticket_per_failing_policy(api, receiver, django_capture_on_commit_callbacks):
    jira = {"url": receiver.url, "username": "bot@example.com", "api_token": "tok", "project_key": "OPS",
            "enable_failing_policies": True, "enable_software_vulnerabilities": False}  # fmt: skip
    policy = Policy.objects.create(name="Disk", query="SELECT 1")
    _failing(policy, 2)
    _settings({"failing_policies_webhook": {"policy_ids": [policy.pk]}}, {"jira": [jira]})
    with django_capture_on_commit_callbacks(execute=True):
        assert triggers.failing_policies() == 1
    issue = receiver.received[-1]
    assert (issue.method, issue.path, issue.auth) == ("POST", "/rest/api/2/issue", ("bot@example.com", "tok"))
    assert issue.body["fields"]["project"] == {"key": "OPS"}
    assert issue.body["fields"]["summary"] == "Disk policy failed on 2 host(s)"
    assert Delivery.objects.get().kind == Kind.JIRA


def test_host_status_reports_the_unseen_share_once_per_interval(
    team, receiver, settings, django_capture_on_commit_callbacks
):
    old = timezone.now() - timedelta(days=10)
    hosts = [Host.objects.create(hostname=f"s{n}", osquery_host_id=f"s{n}", team=team) for n in range(4)]
    Host.objects.filter(pk__in=[hosts[0].pk, hosts[1].pk]).update(seen_time=old)
    hook = {"enable_host_status_webhook": True, "destination_url": f"{receiver.url}/s",
            "host_percentage": 25, "days_count": 7}  # fmt: skip
    _settings({"host_status_webhook": hook})
    team.spec_settings = {"webhook_settings": {"host_status_webhook": {**hook, "host_percentage": 60}}}
    team.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert triggers.host_status() == 1  # the team's 50% is below its 60%
    assert receiver.posts("/s") == [
        {
            "text": "More than 50.00% of your hosts have not checked into Fleet for more than 7 days. "
            "You've been sent this message because the Host status webhook is enabled in your Fleet instance.",
            "data": {"unseen_hosts": 2, "total_hosts": 4, "days_unseen": 7, "host_ids": [hosts[0].pk, hosts[1].pk]},
        }
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert triggers.host_status() == 0  # within the 24h interval
    team.spec_settings["webhook_settings"]["host_status_webhook"]["host_percentage"] = 50
    team.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert triggers.host_status() == 1
    assert receiver.posts("/s")[-1]["data"]["team_id"] == team.pk
