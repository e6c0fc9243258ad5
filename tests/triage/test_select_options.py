"""`<option>` lists built in Python: escaped exactly as `format_html` escapes, one selected."""

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from triage.views.options import select_options


def test_values_and_labels_are_escaped_and_the_selected_one_is_marked():
    html = select_options([(1, "a<b> & 'c' \"d\""), (2, "two"), ("x", "ex")], selected=2)
    assert isinstance(html, SafeString)
    assert html == (
        '<option value="1">a&lt;b&gt; &amp; &#x27;c&#x27; &quot;d&quot;</option>'
        '<option value="2" selected>two</option>'
        '<option value="x">ex</option>'
    )


def test_the_same_markup_as_format_html_option_by_option():
    choices = [
        (7, "<script>alert(1)</script>"),
        ('"><img', "label"),
        ("safe", mark_safe("<b>kept</b>")),
        (None, "nothing"),
    ]
    expected = "".join(
        format_html(
            '<option value="{}"{}>{}</option>',
            value,
            mark_safe(" selected") if value == "safe" else "",
            label,
        )
        for value, label in choices
    )
    assert select_options(choices, selected="safe") == expected


def test_no_choices_no_options():
    assert select_options([]) == ""
