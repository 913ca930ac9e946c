"""Jira and Zendesk API tokens saved in clear before they were sealed at rest are sealed now."""

from django.db import migrations


def seal_tokens(apps, schema_editor):
    from webhooks.config import integrations, sealed_integrations

    for row in apps.get_model("webhooks", "AutomationSettings").objects.all():
        stored = row.integrations or {}
        if any("api_token" in item for kind in ("jira", "zendesk") for item in stored.get(kind) or []):
            row.integrations = {**stored, **sealed_integrations(integrations(row))}
            row.save(update_fields=["integrations"])


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_initial")]

    operations = [migrations.RunPython(seal_tokens, migrations.RunPython.noop)]
