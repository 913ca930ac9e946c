"""Create Fleet's built-in labels."""

from django.db import migrations

from hosts.builtin_labels import BUILTIN_LABELS


def create_labels(apps, schema_editor):
    Label = apps.get_model("hosts", "Label")
    for name, description, query, platform in BUILTIN_LABELS:
        Label.objects.update_or_create(
            name=name,
            defaults={
                "description": description,
                "query": query,
                "platform": platform,
                "label_type": "builtin",
                "label_membership_type": "dynamic",
            },
        )


def remove_labels(apps, schema_editor):
    Label = apps.get_model("hosts", "Label")
    Label.objects.filter(label_type="builtin").delete()


class Migration(migrations.Migration):
    dependencies = [("hosts", "0001_initial")]

    operations = [migrations.RunPython(create_labels, remove_labels)]
