"""My queue: partial indexes of open findings by member and by squad (its navigation count,
its page and the dashboard card read them)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0021_notification_channels_rules_outbox"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(
                condition=models.Q(("status__in", ["open", "needs_manual_review"])),
                fields=["team", "owner_member", "severity", "first_detected_at"],
                name="mirror_finding_open_member",
            ),
        ),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(
                condition=models.Q(("status__in", ["open", "needs_manual_review"])),
                fields=["team", "owner_squad", "severity", "first_detected_at"],
                name="mirror_finding_open_squad",
            ),
        ),
    ]
