"""The course website's theme: MyST (``jupyter book build --html``) runs this with ``CONTENT_CDN``, where it serves
the site's pages as MyST's JSON (``config.json``, ``content/<slug>.json``, the files they use), and
``BUILD_DIRECTORY``, where the static site goes (template.yml's ``build: render``).

Each page becomes ``<slug>.html`` next to ``index.html``, every link between them relative, so the site works
from any folder or URL prefix (GitHub Pages, a file:// copy). Images and the notebooks' downloads are copied into
``_static/``. Formulas are MathML (which browsers draw themselves): MyST gives each formula as KaTeX's HTML, whose
MathML part is kept. No script, no font, no CDN. A node type this file does not know is rendered through its
children and listed in ``site-report.json`` (the tests want none).
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import sys
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
CDN = os.environ.get("CONTENT_CDN", "").rstrip("/")
OUT = Path(os.environ.get("BUILD_DIRECTORY", HERE.parent / "_build" / "html"))

#: mdast type -> HTML tag, for the nodes that are just a tag around their children.
TAGS = {"paragraph": "p", "strong": "strong", "emphasis": "em", "blockquote": "blockquote", "superscript": "sup",
        "subscript": "sub", "delete": "del", "underline": "u", "smallcaps": "span", "tableRow": "tr",
        "caption": "figcaption", "legend": "div", "definitionList": "dl", "definitionTerm": "dt",
        "definitionDescription": "dd", "abbreviation": "abbr", "span": "span"}
#: Containers whose children are simply rendered in order.
TRANSPARENT = {"root", "block", "mystDirective", "mystRole", "outputs", "listItemContent", "div", "include"}
#: Dropped: comments, the notebooks' (empty) outputs, MyST's target labels.
SKIPPED = {"comment", "output", "mystTarget", "target"}


def fetch(path: str) -> bytes:
    with urllib.request.urlopen(f"{CDN}{path}", timeout=60) as r:
        return r.read()


class Page:
    """One page's HTML, and the assets and links it uses."""

    def __init__(self, slugs: dict[str, str], unknown: set):
        self.slugs = slugs          # "/slug" -> "slug.html"
        self.unknown = unknown

    def asset(self, url: str) -> str:
        """A file MyST serves (``/name-hash.ext``), copied into _static/; its relative URL."""
        name = Path(urllib.parse.urlparse(url).path).name
        target = OUT / "_static" / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(fetch(url if url.startswith("/") else "/" + url))
        return f"_static/{urllib.parse.quote(name)}"

    def href(self, url: str) -> str:
        if re.match(r"^[a-z][a-z0-9+.-]*:", url) or url.startswith("#"):
            return url  # http(s), mailto, an anchor on this page
        path, _, fragment = url.partition("#")
        if path in self.slugs or path.rstrip("/") in self.slugs:
            return self.slugs[path.rstrip("/") or path] + (f"#{fragment}" if fragment else "")
        if path.startswith("/"):
            return self.asset(path) + (f"#{fragment}" if fragment else "")
        return url  # left as written: the link check reports it if it leads nowhere

    def children(self, node) -> str:
        return "".join(self.render(c) for c in node.get("children", []) or [])

    def render(self, node) -> str:
        kind = node.get("type")
        if kind == "text":
            return html.escape(node.get("value", ""), quote=False)
        if kind in SKIPPED:
            return ""
        if kind in TRANSPARENT:
            if kind == "block" and node.get("kind") == "notebook-code":
                return f'<div class="cell code-cell">{self.children(node)}</div>'
            return self.children(node)
        if kind in TAGS:
            return f"<{TAGS[kind]}>{self.children(node)}</{TAGS[kind]}>"
        if kind == "heading":
            depth = min(6, int(node.get("depth", 2)) + 0)
            ident = node.get("html_id") or node.get("identifier") or ""
            anchor = f' id="{html.escape(ident)}"' if ident else ""
            link = f' <a class="anchor" href="#{html.escape(ident)}" aria-label="link to this section">#</a>' if ident else ""
            return f"<h{depth}{anchor}>{self.children(node)}{link}</h{depth}>"
        if kind == "list":
            tag = "ol" if node.get("ordered") else "ul"
            start = f' start="{int(node["start"])}"' if node.get("ordered") and node.get("start", 1) != 1 else ""
            return f"<{tag}{start}>{self.children(node)}</{tag}>"
        if kind == "listItem":
            return f"<li>{self.children(node)}</li>"
        if kind == "inlineCode":
            return f"<code>{html.escape(node.get('value', ''))}</code>"
        if kind == "code":
            lang = node.get("lang") or ""
            klass = f' class="language-{html.escape(lang)}"' if lang else ""
            return f"<pre><code{klass}>{html.escape(node.get('value', ''))}</code></pre>"
        if kind in ("math", "inlineMath"):
            return self.math(node, display=kind == "math")
        if kind == "image":
            alt = html.escape(node.get("alt", "") or "")
            src = self.asset(node["url"]) if node.get("url", "").startswith("/") else html.escape(node.get("url", ""))
            return f'<img src="{src}" alt="{alt}" loading="lazy">'
        if kind == "link":
            url = html.escape(self.href(node.get("url", "")))
            return f'<a href="{url}">{self.children(node)}</a>'
        if kind in ("crossReference", "footnoteReference"):
            url = node.get("url") or (f"#{node.get('html_id') or node.get('identifier', '')}")
            return f'<a href="{html.escape(self.href(url))}">{self.children(node) or html.escape(node.get("label", ""))}</a>'
        if kind == "table":
            return f"<table>{self.children(node)}</table>"
        if kind == "tableCell":
            tag = "th" if node.get("header") else "td"
            align = f' style="text-align:{node["align"]}"' if node.get("align") else ""
            return f"<{tag}{align}>{self.children(node)}</{tag}>"
        if kind == "thematicBreak":
            return "<hr>"
        if kind == "break":
            return "<br>"
        if kind == "html":
            return node.get("value", "")
        if kind == "admonition":
            klass = html.escape(node.get("kind", "note"))
            return f'<aside class="admonition {klass}">{self.children(node)}</aside>'
        if kind == "admonitionTitle":
            return f'<p class="admonition-title">{self.children(node)}</p>'
        if kind == "container":
            return f"<figure>{self.children(node)}</figure>"
        if kind == "footnoteDefinition":
            return f'<div class="footnote" id="{html.escape(node.get("identifier", ""))}">{self.children(node)}</div>'
        self.unknown.add(kind)
        return self.children(node)

    @staticmethod
    def math(node, display):
        """MathML from KaTeX's output (MyST renders each formula with KaTeX); the TeX if there is none."""
        found = re.search(r"<math\b.*?</math>", node.get("html", "") or "", re.S)
        if not found:
            tex = html.escape(node.get("value", ""))
            return f'<div class="math">{tex}</div>' if display else f"<code>{tex}</code>"
        mathml = found.group(0)
        return f'<div class="math">{mathml}</div>' if display else mathml


CSS = """
:root { --text: #1f2328; --muted: #59636e; --line: #d1d9e0; --accent: #0b5cad; --code: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--text); }
.layout { display: grid; grid-template-columns: 17rem minmax(0, 1fr); min-height: 100vh; }
nav.toc { border-right: 1px solid var(--line); padding: 1.2rem 1rem; position: sticky; top: 0; height: 100vh;
          overflow-y: auto; background: #fbfbfc; }
nav.toc .site-title { font-weight: 700; display: block; margin-bottom: 1rem; color: var(--text); text-decoration: none; }
nav.toc ol { list-style: none; padding: 0; margin: 0; }
nav.toc li a { display: block; padding: .3rem .5rem; border-radius: 6px; color: var(--text); text-decoration: none;
               font-size: .92rem; line-height: 1.35; }
nav.toc li a:hover { background: #eef1f4; }
nav.toc li a[aria-current="page"] { background: #e3edf9; color: var(--accent); font-weight: 600; }
main { padding: 2rem 3rem 4rem; max-width: 60rem; }
h1 { font-size: 2rem; line-height: 1.25; margin-top: 0; }
h2 { border-bottom: 1px solid var(--line); padding-bottom: .3rem; margin-top: 2.2rem; }
a { color: var(--accent); }
a.anchor { visibility: hidden; text-decoration: none; margin-left: .3rem; color: var(--muted); }
h2:hover a.anchor, h3:hover a.anchor, h4:hover a.anchor { visibility: visible; }
img { max-width: 100%; height: auto; }
pre { background: var(--code); border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem;
      overflow-x: auto; font-size: .85rem; line-height: 1.45; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; }
:not(pre) > code { background: var(--code); padding: .1rem .3rem; border-radius: 4px; }
.code-cell { margin: 1rem 0; }
blockquote { border-left: 4px solid var(--line); margin: 1rem 0; padding: .2rem 1rem; color: var(--text);
             background: #f8fafc; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid var(--line); padding: .35rem .7rem; }
.math { overflow-x: auto; margin: 1rem 0; }
math[display="block"] { font-size: 1.1em; }
.download { color: var(--muted); font-size: .92rem; }
footer.pager { display: flex; justify-content: space-between; gap: 1rem; margin-top: 3rem; padding-top: 1rem;
               border-top: 1px solid var(--line); }
@media (max-width: 800px) { .layout { grid-template-columns: 1fr; } nav.toc { position: static; height: auto; } }
"""


def page_html(title, body, nav, pager, site_title):
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · {html.escape(site_title)}</title>
<link rel="stylesheet" href="_static/course.css">
</head>
<body>
<div class="layout">
<nav class="toc" aria-label="the course">
<a class="site-title" href="index.html">{html.escape(site_title)}</a>
{nav}
</nav>
<main>
<h1>{html.escape(title)}</h1>
{body}
{pager}
</main>
</div>
</body>
</html>
"""


def main() -> int:
    if not CDN:
        print("render.py: error: CONTENT_CDN is not set: run it through MyST (jupyter book build --html)",
              file=sys.stderr)
        return 1
    config = json.loads(fetch("/config.json"))
    project = config["projects"][0]
    site_title = project.get("title", "")
    index = project["index"]
    pages = [{"slug": index, "file": "index.html"}] + [
        {"slug": p["slug"], "title": p.get("title", p["slug"]), "file": f"{p['slug']}.html"} for p in project["pages"]]
    slugs = {f"/{p['slug']}": p["file"] for p in pages}
    slugs["/"] = "index.html"
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(OUT / "_static", ignore_errors=True)
    (OUT / "_static").mkdir()
    (OUT / "_static" / "course.css").write_text(CSS.lstrip())
    contents = {p["slug"]: json.loads(fetch(f"/content/{p['slug']}.json")) for p in pages}
    for p in pages:
        p["title"] = contents[p["slug"]]["frontmatter"].get("title") or p.get("title") or site_title
    unknown = set()
    for i, p in enumerate(pages):
        data = contents[p["slug"]]
        renderer = Page(slugs, unknown)
        body = renderer.render(data["mdast"])
        downloads = [e for e in data["frontmatter"].get("exports", []) if e.get("format") == "ipynb" and e.get("url")]
        if downloads:
            link = renderer.asset(downloads[0]["url"])
            name = downloads[0].get("filename", "notebook.ipynb")
            body = (f'<p class="download">This page is the notebook <a href="{link}" download="{html.escape(name)}">'
                    f"<code>{html.escape(name)}</code></a> as the learner gets it: exercises as stubs, no outputs. "
                    "Run it in JupyterLab (see the first page) to do the exercises.</p>\n" + body)
        nav = "<ol>" + "".join(
            f'<li><a href="{q["file"]}"{" aria-current=" + chr(34) + "page" + chr(34) if q is p else ""}>'
            f'{html.escape(q["title"])}</a></li>' for q in pages) + "</ol>"
        prev_link = f'<a rel="prev" href="{pages[i - 1]["file"]}">← {html.escape(pages[i - 1]["title"])}</a>' if i else "<span></span>"
        next_link = (f'<a rel="next" href="{pages[i + 1]["file"]}">{html.escape(pages[i + 1]["title"])} →</a>'
                     if i + 1 < len(pages) else "<span></span>")
        pager = f'<footer class="pager">{prev_link}{next_link}</footer>'
        (OUT / p["file"]).write_text(page_html(p["title"], body, nav, pager, site_title))
    report = {"pages": [p["file"] for p in pages], "unknown_node_types": sorted(unknown)}
    (OUT / "site-report.json").write_text(json.dumps(report, indent=1))
    print(f"render.py: wrote {len(pages)} pages to {OUT}" + (f"; unknown node types: {sorted(unknown)}" if unknown else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
