"""Reviews that count: a review relabels many beats and confirms, rejects or adds findings;
the prediction keeps the model's reading beside the reviewed one; records carry symptoms.

Old reviews move over: a corrected beat becomes a one-beat selection; a correction of the
"overall finding" (no beat) has no counterpart and is kept as words in the note.
"""

from django.conf import settings
from django.db import migrations, models


def forwards(apps, schema_editor):
    Review = apps.get_model("predictions", "Review")
    for review in Review.objects.exclude(corrected_code=""):
        if review.beat_index is not None:
            review.beat_indices = [review.beat_index]
        else:
            review.note = (f"Overall class corrected to {review.corrected_code}. " + review.note).strip()[:4000]
            review.corrected_code = ""
        review.save(update_fields=["beat_indices", "note", "corrected_code"])


class Migration(migrations.Migration):

    dependencies = [
        ('predictions', '0005_clinical_reading'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='review',
            name='review_beat_has_correction',
        ),
        migrations.AddField(
            model_name='ecgrecord',
            name='symptoms',
            field=models.JSONField(blank=True, default=list, help_text='What the patient felt when recording (ml.assessment.SYMPTOMS keys).'),
        ),
        migrations.AddField(
            model_name='prediction',
            name='model_reading',
            field=models.JSONField(blank=True, default=dict, help_text="The model's assessment, labels and counts before any review."),
        ),
        migrations.AddField(
            model_name='prediction',
            name='reviewed_at',
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name='prediction',
            name='reviewed_by',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name='review',
            name='added_findings',
            field=models.JSONField(blank=True, default=list, help_text='SNOMED CT codes the doctor added.'),
        ),
        migrations.AddField(
            model_name='review',
            name='beat_indices',
            field=models.JSONField(blank=True, default=list, help_text='0-based indices of the relabelled beats.'),
        ),
        migrations.AddField(
            model_name='review',
            name='complete',
            field=models.BooleanField(default=False, help_text='The doctor read the whole ECG.'),
        ),
        migrations.AddField(
            model_name='review',
            name='finding_decisions',
            field=models.JSONField(blank=True, default=dict, help_text='Finding key -> "confirmed" or "rejected".'),
        ),
        migrations.AddField(
            model_name='review',
            name='rhythm',
            field=models.CharField(blank=True, help_text='SNOMED CT code of the rhythm, when corrected.', max_length=16),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='review',
            name='beat_index',
        ),
        migrations.AddConstraint(
            model_name='review',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('beat_indices', []), ('corrected_code', '')), models.Q(models.Q(('beat_indices', []), _negated=True), models.Q(('corrected_code', ''), _negated=True)), _connector='OR'), name='review_beats_iff_correction'),
        ),
    ]
