from articles.markdown import render_markdown


def test_markdown_renders_headings_lists_and_links():
    html = render_markdown("## Symptoms\n\n- palpitations\n- **dizziness**\n\n[NHS](https://www.nhs.uk/)")
    assert "<h2>Symptoms</h2>" in html
    assert "<li><strong>dizziness</strong></li>" in html
    assert 'href="https://www.nhs.uk/"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_script_tags_and_their_content_are_removed():
    html = render_markdown("Hello\n\n<script>window.__pwned = true</script>\n\n<style>body{display:none}</style>")
    assert "<script" not in html
    assert "__pwned" not in html
    assert "display:none" not in html
    assert "Hello" in html


def test_event_handler_attributes_are_removed():
    html = render_markdown('<img src="x" onerror="alert(1)"> <p onclick="alert(2)">text</p> <a href="#" onmouseover="x()">a</a>')
    assert "onerror" not in html
    assert "onclick" not in html
    assert "onmouseover" not in html
    assert "alert" not in html


def test_javascript_and_data_urls_are_removed_from_links():
    html = render_markdown(
        "[click](javascript:alert(1)) <a href='JaVaScRiPt:alert(2)'>x</a> "
        "<a href='data:text/html;base64,PHNjcmlwdD4='>y</a> [ok](https://example.org/)"
    )
    assert "javascript" not in html.lower()
    assert "data:text" not in html
    assert 'href="https://example.org/"' in html


def test_iframes_forms_and_svg_are_removed():
    html = render_markdown('<iframe src="https://evil.example"></iframe><form action="/x"><input></form><svg onload="x()"></svg>')
    for tag in ("<iframe", "<form", "<input", "<svg", "onload"):
        assert tag not in html
