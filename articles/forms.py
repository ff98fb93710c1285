from django import forms

from articles.models import BEAT_CODE_CHOICES, Article


class ArticleSearchForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200)
    kind = forms.ChoiceField(label="Type", required=False, choices=[("", "All types"), *Article.Kind.choices])
    code = forms.ChoiceField(label="Beat class", required=False, choices=[("", "All beat classes"), *BEAT_CODE_CHOICES])
