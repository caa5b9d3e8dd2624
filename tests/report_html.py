"""Reading the report's HTML in tests: every table with an id and every paragraph with an id."""

from html.parser import HTMLParser


class Tables(HTMLParser):
    """Every table with an id → its rows: (the <tr>'s attributes, [(the cell's attributes, its text)]);
    every paragraph with an id → its text."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list] = {}
        self.paragraphs: dict[str, str] = {}
        self._table = self._row = self._cell = self._paragraph = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "id" in attrs:
            self._table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = (attrs, [])
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = [attrs, ""]
            self._row[1].append(self._cell)
        elif tag == "p" and "id" in attrs:
            self._paragraph = attrs["id"]
            self.paragraphs[self._paragraph] = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "tr":
            self._row = None
        elif tag in ("td", "th"):
            self._cell = None
        elif tag == "p":
            self._paragraph = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data
        if self._paragraph is not None:
            self.paragraphs[self._paragraph] += data


def parse(html: str) -> Tables:
    parser = Tables()
    parser.feed(html)
    return parser


def texts(cells) -> list[str]:
    return [" ".join(text.split()) for _, text in cells]


def rows(parsed: Tables, table: str, key: str) -> dict:
    """The rows of ``table`` carrying ``data-KEY``, by that attribute's value, as cell texts."""
    return {attrs[f"data-{key}"]: texts(cells) for attrs, cells in parsed.tables[table] if f"data-{key}" in attrs}


def without_section(html: str, start: str, styles: str) -> str:
    """``html`` with the section from ``start`` up to the files' heading removed, and the first run of style
    lines matching the regular expression ``styles`` (the section's own CSS)."""
    import re

    begin, end = html.index(start), html.index('<h2 id="files">')
    css = re.search(styles, html, re.DOTALL)
    return html[:begin].replace(css.group(0), "\n", 1) + html[end:]
