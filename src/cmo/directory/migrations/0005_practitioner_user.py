# The app user who is this practitioner: a clinician opens their own results page (issue 14).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("directory", "0004_code_blank_for_hand_entry"),
    ]

    operations = [
        migrations.AddField(
            model_name="practitioner",
            name="user",
            field=models.OneToOneField(
                blank=True,
                help_text=(
                    "the app user who is this practitioner (a clinician sees their own results)"
                ),
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="practitioner",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
